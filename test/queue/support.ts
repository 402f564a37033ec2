import { randomUUID } from 'node:crypto';
import { connect as connect091 } from 'amqplib';
import { create_container } from 'rhea';
import { TASK_MESSAGE_VERSION, TaskMessage } from '@shipdeck/queue';

/** The RabbitMQ the AMQP tests use (its AMQP 1.0 plugin must be enabled). */
export const AMQP_URL = process.env.SHIPDECK_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

const HOW_TO_FIX =
  'Start RabbitMQ (`rabbitmq-server -detached`, or `bash tools/prepare-services.sh`) and enable its AMQP 1.0 plugin ' +
  '(`rabbitmq-plugins enable rabbitmq_amqp1_0`), or set SHIPDECK_TEST_AMQP_URL to a RabbitMQ that has it.';

function redact(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.href;
}

/** Fails (never skips) with a message saying what to start when the broker is not usable. */
export async function requireBroker(url = AMQP_URL): Promise<void> {
  try {
    const connection = await connect091(url, { timeout: 5000 });
    await connection.close();
  } catch (error) {
    throw new Error(`RabbitMQ is not reachable over AMQP 0-9-1 at ${redact(url)} (${String(error)}). ${HOW_TO_FIX}`);
  }
  const parsed = new URL(url);
  await new Promise<void>((resolve, reject) => {
    const container = create_container();
    container.on('error', () => undefined);
    const connection = container.connect({
      host: parsed.hostname,
      port: Number(parsed.port || 5672),
      username: decodeURIComponent(parsed.username) || undefined,
      password: decodeURIComponent(parsed.password) || undefined,
      reconnect: false,
    });
    const fail = (reason: string) => {
      clearTimeout(timer);
      connection.close();
      reject(new Error(`RabbitMQ at ${redact(url)} does not speak AMQP 1.0 (${reason}). ${HOW_TO_FIX}`));
    };
    const timer = setTimeout(() => fail('no open frame within 5 s'), 5000);
    connection.on('connection_open', () => {
      clearTimeout(timer);
      connection.close();
      resolve();
    });
    connection.on('disconnected', (context) => fail(String(context.error ?? 'disconnected')));
    connection.on('connection_error', (context) => fail(String(context.connection.error?.description ?? 'connection error')));
  });
}

export async function deleteQueue(queueName: string, url = AMQP_URL): Promise<void> {
  const connection = await connect091(url);
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue(queueName);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Messages in the queue that are neither delivered nor settled. */
export async function readyCount(queueName: string, url = AMQP_URL): Promise<number> {
  const connection = await connect091(url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queueName)).messageCount;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Publishes raw bytes over AMQP 0-9-1, bypassing the adapter's envelope. */
export async function publishRaw(queueName: string, body: Buffer, url = AMQP_URL): Promise<void> {
  const connection = await connect091(url);
  try {
    const channel = await connection.createConfirmChannel();
    channel.sendToQueue(queueName, body, { persistent: true });
    await channel.waitForConfirms();
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** Polls until the condition holds, or fails naming what was awaited. */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * What the tests of a file open on the broker (queues, consumers, proxies) and the queues they
 * name: closed and deleted by {@link cleanUp} after each test, even when the test failed.
 */
export class BrokerLeftovers {
  private readonly opened: { close(): Promise<void> }[] = [];
  private readonly named: (() => Promise<void>)[] = [];

  /** Keeps `item` to close at the clean-up; answers it. */
  keep<T extends { close(): Promise<void> }>(item: T): T {
    this.opened.push(item);
    return item;
  }

  /** A queue name of the test's own (`test-<uuid>`), deleted at the clean-up by `deleteQueue`. */
  newQueueName(deleteQueue: (name: string) => Promise<void>): string {
    const name = `test-${randomUUID()}`;
    this.named.push(() => deleteQueue(name));
    return name;
  }

  /** Closes what was kept, newest first, then deletes the named queues; failures are ignored (the broker may be gone). */
  async cleanUp(): Promise<void> {
    for (const item of this.opened.splice(0).reverse()) await item.close().catch(() => undefined);
    for (const deleteQueue of this.named.splice(0)) await deleteQueue().catch(() => undefined);
  }
}

export function taskMessage(taskId: string, configHash = 'hash-a'): TaskMessage {
  return {
    version: TASK_MESSAGE_VERSION,
    taskId,
    taskType: 'DEPLOYMENT',
    configHash,
    publishedBy: 'master-test',
    publishedAt: new Date().toISOString(),
  };
}

export interface LogLine {
  level: 'info' | 'warn' | 'error' | 'debug';
  message: string;
  meta?: Record<string, unknown>;
}

/** A logger that keeps its lines (and prints them when SHIPDECK_TEST_LOG is set). */
export function recordingLogger(): { lines: LogLine[]; info: Sink; warn: Sink; error: Sink; debug: Sink } {
  const lines: LogLine[] = [];
  const sink =
    (level: LogLine['level']): Sink =>
    (message, meta) => {
      lines.push({ level, message, meta });
      if (process.env.SHIPDECK_TEST_LOG) console.log(`${level} ${message} ${meta ? JSON.stringify(meta) : ''}`);
    };
  return { lines, info: sink('info'), warn: sink('warn'), error: sink('error'), debug: sink('debug') };
}

type Sink = (message: string, meta?: Record<string, unknown>) => void;

/**
 * A TCP proxy in front of the broker that a test can cut (every connection through it dies at
 * once, like a network failure) and make refuse new connections, without touching the code
 * under test.
 */
export interface TcpProxy {
  /** The broker URL, pointing at the proxy. */
  url: string;
  /** Destroys every proxied connection. */
  cut(): void;
  /** While true, new connections are closed at once. */
  refuse(on: boolean): void;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Client connections open now. */
  readonly open: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target = AMQP_URL): Promise<TcpProxy> {
  const { createServer, connect } = await import('node:net');
  const upstream = new URL(target);
  const sockets = new Set<import('node:net').Socket>();
  const clients = new Set<import('node:net').Socket>();
  let refusing = false;
  let accepted = 0;
  const server = createServer((client) => {
    if (refusing) return void client.destroy();
    accepted++;
    clients.add(client);
    client.on('close', () => clients.delete(client));
    const broker = connect(Number(upstream.port || 5672), upstream.hostname);
    for (const [a, b] of [
      [client, broker],
      [broker, client],
    ]) {
      sockets.add(a);
      a.pipe(b);
      a.on('error', () => b.destroy());
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(target);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as import('node:net').AddressInfo).port);
  return {
    url: proxied.href,
    cut: () => sockets.forEach((socket) => socket.destroy()),
    refuse: (on) => void (refusing = on),
    get accepted() {
      return accepted;
    },
    get open() {
      return clients.size;
    },
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
}

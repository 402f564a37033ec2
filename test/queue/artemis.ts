import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { create_container, message as amqpMessage, type Connection, type EventContext, type Message, type Source } from 'rhea';

/**
 * Where the Artemis the tests use is: SHIPDECK_TEST_ARTEMIS_AMQP_URL / SHIPDECK_TEST_ARTEMIS_STOMP_URL
 * when set, otherwise the instance `artemis-broker/start-local` created on this machine (its URLs
 * file). The test user there has the master, worker and admin roles.
 */
export interface ArtemisUrls {
  amqp: string;
  stomp: string;
  /** Per-role URLs of the local instance, for the security tests; absent with URLs from the environment. */
  master?: { amqp: string; stomp: string };
  worker?: { amqp: string; stomp: string };
}

const HOW_TO_FIX =
  'Start the local Artemis (`artemis-broker/start-local`, which `bash tools/prepare-services.sh` runs), or set ' +
  'SHIPDECK_TEST_ARTEMIS_AMQP_URL and SHIPDECK_TEST_ARTEMIS_STOMP_URL to an Artemis whose user may send, consume and create queues.';

function localEnvFile(): string {
  const cache = process.env.SHIPDECK_CACHE ?? join(homedir(), '.cache', 'shipdeck');
  return join(process.env.SHIPDECK_ARTEMIS_INSTANCE ?? join(cache, 'artemis-instance'), 'shipdeck-local.env');
}

let cached: ArtemisUrls | undefined;

export function artemisUrls(): ArtemisUrls {
  if (cached) return cached;
  const amqp = process.env.SHIPDECK_TEST_ARTEMIS_AMQP_URL;
  const stomp = process.env.SHIPDECK_TEST_ARTEMIS_STOMP_URL;
  if (amqp && stomp) return (cached = { amqp, stomp });
  const file = localEnvFile();
  if (!existsSync(file)) throw new Error(`no Artemis URLs: ${file} does not exist. ${HOW_TO_FIX}`);
  const vars = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  cached = {
    amqp: vars.SHIPDECK_ARTEMIS_AMQP_URL,
    stomp: vars.SHIPDECK_ARTEMIS_STOMP_URL,
    master: { amqp: vars.SHIPDECK_ARTEMIS_MASTER_AMQP_URL, stomp: vars.SHIPDECK_ARTEMIS_MASTER_STOMP_URL },
    worker: { amqp: vars.SHIPDECK_ARTEMIS_WORKER_AMQP_URL, stomp: vars.SHIPDECK_ARTEMIS_WORKER_STOMP_URL },
  };
  return cached;
}

/** An AMQP connection to Artemis for test plumbing (management, raw publishes). */
async function withConnection<T>(url: string, use: (connection: Connection) => Promise<T>): Promise<T> {
  const parsed = new URL(url);
  const container = create_container({ id: `shipdeck-test-${randomUUID()}` });
  container.on('error', () => undefined);
  const connection = container.connect({
    host: parsed.hostname,
    port: Number(parsed.port || 5672),
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    reconnect: false,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Artemis at ${parsed.host} did not open an AMQP connection within 5 s. ${HOW_TO_FIX}`)), 5000);
    connection.once('connection_open', () => {
      clearTimeout(timer);
      resolve();
    });
    connection.once('disconnected', (context: EventContext) => {
      clearTimeout(timer);
      reject(new Error(`Artemis at ${parsed.host} is not reachable over AMQP (${String(context.error ?? 'disconnected')}). ${HOW_TO_FIX}`));
    });
  });
  try {
    return await use(connection);
  } finally {
    // Waits for the broker's close (bounded), so no socket outlives the test.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      connection.once('connection_close', () => {
        clearTimeout(timer);
        resolve();
      });
      connection.close();
    });
  }
}

/** Fails (never skips) with a message saying what to start when Artemis (default: the tests') is not usable. */
export async function requireArtemis(amqpUrl = artemisUrls().amqp): Promise<void> {
  await withConnection(amqpUrl, async () => undefined);
}

/**
 * Calls a management operation over AMQP: a request to `activemq.management` naming the resource
 * and operation, answered on a dynamic reply queue with the JSON of the result. `amqpUrl`: of a
 * user with the admin role; default the tests' Artemis.
 */
export async function artemisManage(resource: string, operation: string, parameters: unknown[], amqpUrl = artemisUrls().amqp): Promise<unknown> {
  return withConnection(amqpUrl, (connection) => {
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to management ${resource}.${operation} within 10 s`)), 10_000);
      // A dynamic source: the broker makes a temporary reply queue and names it in its attach.
      const receiver = connection.open_receiver({ source: { dynamic: true } as unknown as Source });
      receiver.on('receiver_open', () => {
        const sender = connection.open_sender({ target: { address: 'activemq.management' } });
        let sent = false;
        sender.on('sendable', () => {
          if (sent) return;
          sent = true;
          const request: Message = {
            reply_to: receiver.source.address,
            application_properties: { _AMQ_ResourceName: resource, _AMQ_OperationName: operation },
            body: JSON.stringify(parameters),
          };
          sender.send(request);
        });
      });
      receiver.on('message', (context: EventContext) => {
        clearTimeout(timer);
        const succeeded = context.message?.application_properties?._AMQ_OperationSucceeded;
        const body = context.message?.body as unknown;
        const text = typeof body === 'string' ? body : Buffer.isBuffer((body as { content?: unknown })?.content) ? String((body as { content: Buffer }).content) : String(body);
        if (succeeded === false) reject(new Error(`management ${resource}.${operation} failed: ${text}`));
        else resolve(JSON.parse(text));
      });
    });
  });
}

/** Messages in the queue that no consumer holds (ready to be delivered). */
export async function artemisReadyCount(queueName: string): Promise<number> {
  const [count] = (await artemisManage(`queue.${queueName}`, 'countMessages', [])) as [number];
  const [delivering] = (await artemisManage(`queue.${queueName}`, 'getDeliveringCount', [])) as [number];
  return count - delivering;
}

/**
 * What Artemis holds for a queue, for failure reports: messages, those counted as delivering, the
 * consumers and the deliveries they really hold. `orphaned` (delivering, but held by no consumer)
 * is the trace of the Artemis STOMP cleanup race described in test/queue/fixtures/artemis-stomp-orphans.ts:
 * such messages are never redelivered until the broker restarts.
 */
export async function artemisQueueState(queueName: string, amqpUrl?: string): Promise<string> {
  const { messages, delivering, consumers, held, orphaned } = await artemisQueueCounts(queueName, amqpUrl);
  return `messages ${messages}, delivering ${delivering}, consumers ${consumers} holding ${held}, orphaned ${orphaned}`;
}

/**
 * The broker's counts for a queue. `orphaned`: deliveries the broker counts as in flight that no
 * consumer holds — what Artemis's STOMP connection cleanup leaves behind (see
 * fixtures/artemis-stomp-orphans.ts); they come back only when the broker restarts.
 */
export async function artemisQueueCounts(
  queueName: string,
  amqpUrl = artemisUrls().amqp,
): Promise<{ messages: number; delivering: number; consumers: number; held: number; orphaned: number }> {
  const resource = `queue.${queueName}`;
  const [messages] = (await artemisManage(resource, 'countMessages', [], amqpUrl)) as [number];
  const [delivering] = (await artemisManage(resource, 'getDeliveringCount', [], amqpUrl)) as [number];
  const [consumersJson] = (await artemisManage(resource, 'listConsumersAsJSON', [], amqpUrl)) as [string];
  const consumers = JSON.parse(consumersJson) as { messagesInTransit?: number }[];
  const held = consumers.reduce((sum, consumer) => sum + (consumer.messagesInTransit ?? 0), 0);
  return { messages, delivering, consumers: consumers.length, held, orphaned: delivering - held };
}

/** Deletes a queue (and its address) with whatever is in it. */
export async function artemisDeleteQueue(queueName: string, amqpUrl = artemisUrls().amqp): Promise<void> {
  await artemisManage('broker', 'destroyQueue', [queueName, true, true], amqpUrl);
}

/** Publishes a raw body over AMQP (a data section), bypassing the adapter's envelope. */
export async function artemisPublishRaw(queueName: string, body: Buffer): Promise<void> {
  await withConnection(artemisUrls().amqp, (connection) => {
    return new Promise<void>((resolve, reject) => {
      const sender = connection.open_sender({ target: { address: queueName, capabilities: ['queue'] } });
      let sent = false;
      sender.on('sendable', () => {
        if (sent) return;
        sent = true;
        sender.send({ durable: true, body: amqpMessage.data_section(body) });
      });
      sender.on('accepted', () => resolve());
      sender.on('rejected', (context: EventContext) => reject(new Error(`raw publish rejected: ${JSON.stringify(context.delivery?.remote_state)}`)));
    });
  });
}

import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { openTaskQueue, TaskQueue } from '@shipdeck/queue';
import { recordingLogger, taskMessage, until } from './support';

const run = promisify(execFile);
const START_LOCAL = join(__dirname, '..', '..', 'artemis-broker', 'start-local');

jest.setTimeout(300_000);

/** A port nobody listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * An Artemis of this test's own (start-local with its own instance directory and ports), so that
 * killing it disturbs no other test. Shares the unpacked distribution with the local instance.
 */
interface PrivateBroker {
  env: NodeJS.ProcessEnv;
  instance: string;
  urls: { amqp: string; stomp: string };
}

async function startLocal(broker: Pick<PrivateBroker, 'env'>, command: 'start' | 'stop'): Promise<void> {
  await run('bash', [START_LOCAL, command], { env: broker.env, timeout: 240_000 });
}

let broker: PrivateBroker;

beforeAll(async () => {
  const instance = mkdtempSync(join(tmpdir(), 'shipdeck-artemis-'));
  const env = {
    ...process.env,
    SHIPDECK_ARTEMIS_INSTANCE: join(instance, 'broker'),
    SHIPDECK_ARTEMIS_PORT: String(await freePort()),
    SHIPDECK_ARTEMIS_STOMP_PORT: String(await freePort()),
  };
  await startLocal({ env }, 'start');
  const vars = Object.fromEntries(
    readFileSync(join(instance, 'broker', 'shipdeck-local.env'), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  broker = { env, instance, urls: { amqp: vars.SHIPDECK_ARTEMIS_AMQP_URL, stomp: vars.SHIPDECK_ARTEMIS_STOMP_URL } };
});

afterAll(async () => {
  if (!broker) return;
  await startLocal(broker, 'stop').catch(() => undefined);
  rmSync(broker.instance, { recursive: true, force: true });
});

describe('Artemis SIGKILLed mid-run and restarted on its journal', () => {
  const opened: TaskQueue[] = [];
  afterEach(async () => {
    for (const queue of opened.splice(0).reverse()) await queue.close().catch(() => undefined);
  });

  it.each(['amqp', 'stomp'] as const)('loses no confirmed message over %s', async (protocol) => {
    const url = broker.urls[protocol];
    const queueName = `test-restart-${protocol}`;
    const open = async (logger: ReturnType<typeof recordingLogger>) => {
      const queue = await openTaskQueue({
        url,
        name: queueName,
        dialect: 'auto',
        logger,
        reconnect: { initialDelayMs: 100, maxDelayMs: 1000 },
        // Long enough to outlast the broker's restart: a publish waits for it.
        publishTimeoutMs: 200_000,
      });
      opened.push(queue);
      return queue;
    };
    const publisherLog = recordingLogger();
    const consumerLog = recordingLogger();
    const publisher = await open(publisherLog);
    const consumerQueue = await open(consumerLog);
    const received = new Map<string, number>();
    await consumerQueue.consume({ capacity: 5 }, async (delivery) => {
      const id = delivery.message.taskId;
      received.set(id, (received.get(id) ?? 0) + 1);
      await delivery.accept();
    });

    const total = 300;
    const ids = Array.from({ length: total }, (_, i) => `${protocol}-${i}`);
    const publishes: Promise<void>[] = [];
    for (const id of ids.slice(0, 150)) publishes.push(publisher.publish(taskMessage(id)));
    await until(() => received.size >= 20, 'the first deliveries', 60_000);
    // Mid-run: sends are on their way and deliveries unacknowledged when the JVM dies.
    const pid = Number(readFileSync(join(broker.env.SHIPDECK_ARTEMIS_INSTANCE as string, 'shipdeck.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    for (const id of ids.slice(150)) publishes.push(publisher.publish(taskMessage(id)));
    await until(() => publisherLog.lines.some((line) => /-> reconnecting/.test(line.message)), 'the publisher to notice', 60_000);
    await startLocal(broker, 'start');
    await Promise.all(publishes);
    await until(() => ids.every((id) => received.has(id)), `all ${total} ids after the restart`, 120_000);

    const duplicates = [...received.values()].reduce((sum, count) => sum + count - 1, 0);
    const resent = publisherLog.lines.reduce((sum, line) => sum + (Number(line.meta?.unsettledSends) || 0), 0);
    console.log(`${protocol} broker restart: ${total} ids received, ${duplicates} duplicate deliveries, ${resent} sends unconfirmed at the kill and resent`);
    expect(ids.filter((id) => !received.has(id))).toEqual([]);
    expect(consumerLog.lines.some((line) => /-> open: reconnected/.test(line.message))).toBe(true);
  });
});

import { openTaskQueue, TaskQueue } from '@shipdeck/queue';
import { PrivateArtemis, startPrivateArtemis } from './private-artemis';
import { recordingLogger, taskMessage, until } from './support';

jest.setTimeout(300_000);

/** An Artemis of this test's own (own instance and ports), so that killing it disturbs no other test. */
let broker: PrivateArtemis | undefined;

beforeAll(async () => {
  broker = await startPrivateArtemis();
});

afterAll(async () => {
  await broker?.remove();
});

describe('Artemis SIGKILLed mid-run and restarted on its journal', () => {
  const opened: TaskQueue[] = [];
  afterEach(async () => {
    for (const queue of opened.splice(0).reverse()) await queue.close().catch(() => undefined);
  });

  it.each(['amqp', 'stomp'] as const)('loses no confirmed message over %s', async (protocol) => {
    const artemis = broker as PrivateArtemis;
    const url = artemis.urls[protocol];
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
    await artemis.kill();
    for (const id of ids.slice(150)) publishes.push(publisher.publish(taskMessage(id)));
    await until(() => publisherLog.lines.some((line) => /-> reconnecting/.test(line.message)), 'the publisher to notice', 60_000);
    await artemis.start();
    await Promise.all(publishes);
    await until(() => ids.every((id) => received.has(id)), `all ${total} ids after the restart`, 120_000);

    const duplicates = [...received.values()].reduce((sum, count) => sum + count - 1, 0);
    const resent = publisherLog.lines.reduce((sum, line) => sum + (Number(line.meta?.unsettledSends) || 0), 0);
    console.log(`${protocol} broker restart: ${total} ids received, ${duplicates} duplicate deliveries, ${resent} sends unconfirmed at the kill and resent`);
    expect(ids.filter((id) => !received.has(id))).toEqual([]);
    expect(consumerLog.lines.some((line) => /-> open: reconnected/.test(line.message))).toBe(true);
  });
});

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { connect as connect091 } from 'amqplib';
import { ConfigError } from '@shipdeck/errors';
import { AmqpTaskQueue, createAmqpTaskQueue, Delivery, TaskConsumer, TaskMessage, TaskPublishError, TaskQueue } from '@shipdeck/queue';
import {
  AMQP_URL,
  createVhost,
  deleteQueue,
  publishRaw,
  rabbitmqctl,
  readyCount,
  recordingLogger,
  requireBroker,
  startTcpProxy,
  taskMessage,
  until,
} from './support';

jest.setTimeout(60_000);

/** Every queue and consumer a test opens, closed afterwards even when the test fails. */
const opened: { close(): Promise<void> }[] = [];
const queuesToDelete: { name: string; url: string }[] = [];

async function open(queueName: string, logger = recordingLogger(), url = AMQP_URL): Promise<TaskQueue> {
  const queue = await createAmqpTaskQueue({
    url,
    queueName,
    dialect: 'rabbitmq',
    logger,
    reconnect: { initialDelayMs: 50, maxDelayMs: 1000 },
  });
  opened.push(queue);
  return queue;
}

function newQueueName(url = AMQP_URL): string {
  const name = `test-${randomUUID()}`;
  queuesToDelete.push({ name, url });
  return name;
}

beforeAll(async () => {
  await requireBroker();
});

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close().catch(() => undefined);
  for (const { name, url } of queuesToDelete.splice(0)) await deleteQueue(name, url).catch(() => undefined);
});

describe('AMQP 1.0 task queue on RabbitMQ', () => {
  it('keeps published messages durably for a consumer on a fresh connection', async () => {
    const queueName = newQueueName();
    const publisher = await open(queueName);
    const sent = [taskMessage('t-1'), taskMessage('t-2'), taskMessage('t-3')];
    for (const message of sent) await publisher.publish(message);
    await publisher.close();
    await publisher.close(); // idempotent

    const consumerQueue = await open(queueName);
    const received: TaskMessage[] = [];
    await consumerQueue.consume({ capacity: 5 }, async (delivery) => {
      received.push(delivery.message);
      await delivery.accept();
    });
    await until(() => received.length === 3, '3 deliveries');
    expect(received).toEqual(sent);
    await until(async () => (await readyCount(queueName)) === 0, 'an empty queue');
  });

  it('detects the RabbitMQ dialect from the open frame', async () => {
    const queueName = newQueueName();
    const logger = recordingLogger();
    const queue = await createAmqpTaskQueue({ url: AMQP_URL, queueName, dialect: 'auto', logger });
    opened.push(queue);
    expect(queue).toBeInstanceOf(AmqpTaskQueue);
    expect((queue as AmqpTaskQueue).dialect.name).toBe('rabbitmq');
    expect(logger.lines.some((line) => /RabbitMQ .*rabbitmq dialect/.test(line.message))).toBe(true);
    // The rabbitmq dialect declared the queue: publishing to it works.
    await queue.publish(taskMessage('t-auto'));
  });

  it('refuses a queue that exists with other arguments, saying so', async () => {
    const queueName = newQueueName();
    const connection = await connect091(AMQP_URL);
    const channel = await connection.createChannel();
    await channel.assertQueue(queueName, { durable: true }); // a classic queue
    await connection.close();
    const failure = createAmqpTaskQueue({ url: AMQP_URL, queueName, dialect: 'rabbitmq', logger: recordingLogger() });
    await expect(failure).rejects.toBeInstanceOf(ConfigError);
    await expect(failure).rejects.toThrow(/already exists .*quorum/);
  });

  it('never holds more deliveries than its capacity, while 30 messages pass one slot at a time', async () => {
    const queueName = newQueueName();
    const logger = recordingLogger();
    const queue = await open(queueName, logger);
    const total = 30;
    const capacity = 3;
    await Promise.all(Array.from({ length: total }, (_, i) => queue.publish(taskMessage(`t-${i}`))));

    const holding: { delivery: Delivery; finish: () => void }[] = [];
    const seen = new Set<string>();
    let maxHeld = 0;
    const consumer = await queue.consume({ capacity }, (delivery) => {
      seen.add(delivery.message.taskId);
      return new Promise<void>((finish) => {
        holding.push({ delivery, finish });
        maxHeld = Math.max(maxHeld, holding.length);
      });
    });
    // Sample the held count over the whole run, not only at delivery time.
    const sampler = setInterval(() => (maxHeld = Math.max(maxHeld, holding.length)), 2);
    try {
      while (seen.size < total) {
        await until(() => holding.length === capacity || seen.size === total, `${capacity} held deliveries`);
        // Give the broker room to overshoot before the next slot frees.
        await new Promise((resolve) => setTimeout(resolve, 30));
        expect(holding.length).toBeLessThanOrEqual(capacity);
        const oldest = holding.shift()!;
        await oldest.delivery.accept();
        oldest.finish();
      }
    } finally {
      clearInterval(sampler);
    }
    expect(maxHeld).toBeLessThanOrEqual(capacity);
    expect(seen.size).toBe(total);
    expect((consumer as unknown as { heldCount: number }).heldCount).toBeLessThanOrEqual(capacity);
    for (const held of holding.splice(0)) {
      await held.delivery.accept();
      held.finish();
    }
    await until(async () => (await readyCount(queueName)) === 0, 'an empty queue');
  });

  it('gives a handed-back message to another consumer', async () => {
    const queueName = newQueueName();
    const queueA = await open(queueName);
    const queueB = await open(queueName);
    const seenBy: string[] = [];
    const first: TaskConsumer = await queueA.consume({ capacity: 1 }, async (delivery) => {
      seenBy.push(`A:${delivery.message.taskId}`);
      await delivery.handBack();
      await first.pause();
    });
    await queueA.publish(taskMessage('t-handed'));
    await until(() => seenBy.length === 1, 'consumer A to get the message');
    await queueB.consume({ capacity: 1 }, async (delivery) => {
      seenBy.push(`B:${delivery.message.taskId}`);
      await delivery.accept();
    });
    await until(() => seenBy.includes('B:t-handed'), 'consumer B to get the handed-back message');
    expect(seenBy.filter((entry) => entry.startsWith('A:'))).toEqual(['A:t-handed']);
  });

  it('stops deliveries on pause: the broker drains the credit, messages go to another consumer', async () => {
    const queueName = newQueueName();
    const logger = recordingLogger();
    const queueA = await open(queueName, logger);
    const queueB = await open(queueName);
    const seenByA: string[] = [];
    const consumerA = await queueA.consume({ capacity: 5 }, async (delivery) => {
      seenByA.push(delivery.message.taskId);
      await delivery.accept();
    });
    // The queue is empty: A holds 5 credits that the pause must take back.
    const started = Date.now();
    await consumerA.pause();
    expect(Date.now() - started).toBeLessThan(2000); // answered, not timed out (closeTimeoutMs is 5 s)
    expect(logger.lines.some((line) => /no drain answer/.test(line.message))).toBe(false);
    for (const id of ['p-1', 'p-2', 'p-3']) await queueA.publish(taskMessage(id));
    const seenByB: string[] = [];
    await queueB.consume({ capacity: 5 }, async (delivery) => {
      seenByB.push(delivery.message.taskId);
      await delivery.accept();
    });
    await until(() => seenByB.length === 3, 'consumer B to get the 3 messages');
    expect(seenByA).toEqual([]);
    expect(logger.lines.some((line) => /after pause released/.test(line.message))).toBe(false);
  });

  it('drops a malformed message with an error line and goes on', async () => {
    const queueName = newQueueName();
    const logger = recordingLogger();
    const queue = await open(queueName, logger);
    await publishRaw(queueName, Buffer.from('this is not json'));
    await publishRaw(queueName, Buffer.from(JSON.stringify({ version: 1, taskId: 'no-other-fields' })));
    await queue.publish(taskMessage('t-good'));
    const received: string[] = [];
    await queue.consume({ capacity: 1 }, async (delivery) => {
      received.push(delivery.message.taskId);
      await delivery.accept();
    });
    await until(() => received.length === 1, 'the well-formed message');
    expect(received).toEqual(['t-good']);
    await until(() => logger.lines.filter((line) => line.level === 'error' && /malformed/.test(line.message)).length === 2, '2 error lines');
    await until(async () => (await readyCount(queueName)) === 0, 'an empty queue');
  });
});

describe('AMQP 1.0 task queue on RabbitMQ, network cut', () => {
  it('resends what the broker had not settled when the connection drops, and publish waits for the reconnect', async () => {
    const proxy = await startTcpProxy();
    opened.push(proxy);
    const queueName = newQueueName();
    const logger = recordingLogger();
    const publisher = await open(queueName, logger, proxy.url);
    const ids = Array.from({ length: 50 }, (_, i) => `t-${i}`);
    // Sent at once: all 50 are on the wire, none settled yet, when the network goes.
    const publishes = ids.map((id) => publisher.publish(taskMessage(id)));
    proxy.cut();
    proxy.refuse(true);
    await until(() => logger.lines.some((line) => /reconnect attempt failed/.test(line.message)), 'a refused reconnect attempt');
    // Published while the broker is unreachable: waits.
    publishes.push(publisher.publish(taskMessage('t-during-outage')));
    ids.push('t-during-outage');
    proxy.refuse(false);
    await Promise.all(publishes);

    const drop = logger.lines.find((line) => /-> reconnecting/.test(line.message));
    expect(drop?.meta?.unsettledSends).toBe(50);
    const received = new Map<string, number>();
    const consumerQueue = await open(queueName);
    await consumerQueue.consume({ capacity: 20 }, async (delivery) => {
      received.set(delivery.message.taskId, (received.get(delivery.message.taskId) ?? 0) + 1);
      await delivery.accept();
    });
    await until(() => ids.every((id) => received.has(id)), `all ${ids.length} ids`);
    const duplicates = [...received.values()].reduce((sum, count) => sum + count - 1, 0);
    console.log(`network cut: 50 unsettled sends resent, ${ids.length} ids received, ${duplicates} duplicates`);
  });

  it('rejects a publish that cannot reach the broker within publishTimeoutMs, with a retryable error', async () => {
    const proxy = await startTcpProxy();
    opened.push(proxy);
    const queueName = newQueueName();
    const queue = await createAmqpTaskQueue({
      url: proxy.url,
      queueName,
      dialect: 'rabbitmq',
      logger: recordingLogger(),
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
      publishTimeoutMs: 1000,
    });
    opened.push(queue);
    proxy.refuse(true);
    proxy.cut();
    const started = Date.now();
    const failure = await queue.publish(taskMessage('t-late')).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TaskPublishError);
    expect((failure as TaskPublishError).retryable).toBe(true);
    expect((failure as Error).message).toMatch(/not accepted by the broker within 1000 ms/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    await queue.close();
    await expect(queue.publish(taskMessage('t-closed'))).rejects.toThrow(/closed/);
  });
});

describe('AMQP 1.0 task queue shutdown', () => {
  it('lets the process exit right after close (no timer or socket left behind)', async () => {
    const queueName = newQueueName();
    const started = Date.now();
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve, reject) => {
      const child = spawn(process.execPath, ['-r', 'esbuild-register', join(__dirname, 'fixtures', 'close-and-exit.ts'), queueName], {
        cwd: join(__dirname, '..', '..'),
        env: { ...process.env, SHIPDECK_TEST_AMQP_URL: AMQP_URL },
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the process did not exit within 20 s after closing the queue; output: ${out}`));
      }, 20_000);
      child.on('exit', (exitCode) => {
        clearTimeout(timer);
        resolve({ stdout: out, code: exitCode });
      });
    });
    expect(stdout).toContain('closed');
    expect(code).toBe(0);
    // Far below the adapter's 60 s idle time-out, whose timers used to keep the process alive.
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});

describe('AMQP 1.0 task queue on RabbitMQ, connections killed', () => {
  jest.setTimeout(120_000);

  it('loses no message when every connection is killed while 200 messages pass', async () => {
    const vhost = await createVhost();
    try {
      const queueName = newQueueName(vhost.url);
      const publisherLog = recordingLogger();
      const consumerLog = recordingLogger();
      const publisher = await open(queueName, publisherLog, vhost.url);
      const consumerQueue = await open(queueName, consumerLog, vhost.url);
      const received = new Map<string, number>();
      await consumerQueue.consume({ capacity: 10 }, async (delivery) => {
        const id = delivery.message.taskId;
        received.set(id, (received.get(id) ?? 0) + 1);
        await new Promise((resolve) => setTimeout(resolve, 2));
        await delivery.accept();
      });

      const total = 200;
      const ids = Array.from({ length: total }, (_, i) => `t-${i}`);
      const publishes: Promise<void>[] = [];
      let next = 0;
      const publishNext = () => publishes.push(publisher.publish(taskMessage(ids[next++])));
      const reconnects = (log: ReturnType<typeof recordingLogger>) =>
        log.lines.filter((line) => /-> open: reconnected/.test(line.message)).length;

      while (next < 40) publishNext();
      await Promise.all(publishes);
      for (const round of [1, 2]) {
        // rabbitmqctl takes seconds to start: keep publishing until it has closed the connections,
        // so that sends are on their way when the session dies.
        let killed = false;
        const kill = rabbitmqctl('close_all_connections', '-p', vhost.name, 'test').then(() => (killed = true));
        for (let sent = 0; !killed && sent < 60; sent++) {
          publishNext();
          await new Promise((resolve) => setTimeout(resolve, 40));
        }
        await kill;
        // Published during the outage: they wait for the reconnect.
        for (let i = 0; i < 5; i++) publishNext();
        await until(
          () => reconnects(publisherLog) >= round && reconnects(consumerLog) >= round,
          `publisher and consumer to reconnect after kill ${round}`,
        );
      }
      while (next < total) publishNext();
      await Promise.all(publishes);
      await until(() => ids.every((id) => received.has(id)), `all ${total} message ids`, 60_000);

      const duplicates = [...received.values()].reduce((sum, count) => sum + count - 1, 0);
      const resent = publisherLog.lines.reduce((sum, line) => sum + (Number(line.meta?.unsettledSends) || 0), 0);
      console.log(
        `kill test: ${total} ids received, ${duplicates} duplicate deliveries, ${resent} sends unsettled at a drop and resent, ` +
          `reconnects: publisher ${reconnects(publisherLog)}, consumer ${reconnects(consumerLog)}`,
      );
      expect(ids.filter((id) => !received.has(id))).toEqual([]);
      expect(reconnects(publisherLog)).toBeGreaterThanOrEqual(2);
      expect(reconnects(consumerLog)).toBeGreaterThanOrEqual(2);
    } finally {
      for (const item of opened.splice(0).reverse()) await item.close().catch(() => undefined);
      for (const { name, url } of queuesToDelete.splice(0)) await deleteQueue(name, url).catch(() => undefined);
      await vhost.drop();
    }
  });

  it('settles a delivery from before a reconnect without error, and the broker redelivers it', async () => {
    const vhost = await createVhost();
    try {
      const queueName = newQueueName(vhost.url);
      const logger = recordingLogger();
      const queue = await open(queueName, logger, vhost.url);
      const deliveries: Delivery[] = [];
      const finishers: (() => void)[] = [];
      await queue.consume({ capacity: 2 }, (delivery) => {
        deliveries.push(delivery);
        return new Promise<void>((finish) => finishers.push(finish));
      });
      await queue.publish(taskMessage('t-held'));
      await until(() => deliveries.length === 1, 'the first delivery');
      await rabbitmqctl('close_all_connections', '-p', vhost.name, 'test');
      await until(() => logger.lines.some((line) => /-> open: reconnected/.test(line.message)), 'the reconnect');
      await expect(deliveries[0].accept()).resolves.toBeUndefined();
      await until(() => deliveries.length === 2, 'the redelivery');
      expect(deliveries[1].message.taskId).toBe('t-held');
      await deliveries[1].accept();
      finishers.forEach((finish) => finish());
      await until(async () => (await readyCount(queueName, vhost.url)) === 0, 'an empty queue');
    } finally {
      for (const item of opened.splice(0).reverse()) await item.close().catch(() => undefined);
      for (const { name, url } of queuesToDelete.splice(0)) await deleteQueue(name, url).catch(() => undefined);
      await vhost.drop();
    }
  });
});

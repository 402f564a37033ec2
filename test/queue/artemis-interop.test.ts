import { randomUUID } from 'node:crypto';
import { openTaskQueue, TaskMessage, TaskQueue } from '@shipdeck/queue';
import { artemisDeleteQueue, artemisUrls, requireArtemis } from './artemis';
import { recordingLogger, taskMessage, until } from './support';

jest.setTimeout(60_000);

const opened: TaskQueue[] = [];
const queues: string[] = [];

async function open(url: string, queueName: string): Promise<TaskQueue> {
  const queue = await openTaskQueue({ url, name: queueName, dialect: 'auto', logger: recordingLogger() });
  opened.push(queue);
  return queue;
}

function newQueueName(): string {
  const name = `test-${randomUUID()}`;
  queues.push(name);
  return name;
}

beforeAll(requireArtemis);

afterEach(async () => {
  for (const queue of opened.splice(0).reverse()) await queue.close().catch(() => undefined);
  for (const name of queues.splice(0)) await artemisDeleteQueue(name).catch(() => undefined);
});

describe('Artemis: AMQP 1.0 and STOMP on the same queue', () => {
  it.each([
    ['AMQP', 'STOMP'],
    ['STOMP', 'AMQP'],
  ] as const)('a message published over %s is consumed over %s with its envelope and configHash intact', async (from, to) => {
    const urls = artemisUrls();
    const url = (protocol: 'AMQP' | 'STOMP') => (protocol === 'AMQP' ? urls.amqp : urls.stomp);
    const queueName = newQueueName();
    const master = await open(url(from), queueName);
    const worker = await open(url(to), queueName);
    const sent = [taskMessage('i-1', 'hash-a'), taskMessage('i-2', 'hash-b'), taskMessage('i-3', 'hash-a')];
    for (const message of sent) await master.publish(message);
    const received: TaskMessage[] = [];
    // The selector reads configHash as a message property: it must have crossed the protocols too.
    await worker.consume({ capacity: 3, selectorConfigHash: 'hash-a' }, async (delivery) => {
      received.push(delivery.message);
      await delivery.accept();
    });
    await until(() => received.length === 2, 'the 2 hash-a messages');
    expect(received).toEqual([sent[0], sent[2]]);
  });
});

describe('Artemis security (broker.xml roles)', () => {
  const urls = artemisUrls();
  const roles = urls.master && urls.worker ? { master: urls.master, worker: urls.worker } : undefined;
  // Only the local instance has per-role users; a broker given by URL is checked by its operator.
  (roles ? it : it.skip)('refuses anonymous connections, and publishing by a worker user', async () => {
    const { worker } = roles!;
    const anonymous = new URL(urls.amqp);
    anonymous.username = '';
    anonymous.password = '';
    await expect(openTaskQueue({ url: anonymous.href, name: 'shipdeck-tasks', dialect: 'artemis', logger: recordingLogger() })).rejects.toThrow();
    const asWorker = await openTaskQueue({
      url: worker.stomp,
      name: 'shipdeck-tasks',
      dialect: 'auto',
      logger: recordingLogger(),
      publishTimeoutMs: 3000,
    });
    opened.push(asWorker);
    await expect(asWorker.publish(taskMessage('forbidden'))).rejects.toThrow(/not accepted by the broker/);
  });
});

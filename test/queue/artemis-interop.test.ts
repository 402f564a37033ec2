import { randomUUID } from 'node:crypto';
import { openTaskQueue, TaskMessage, TaskPublishError, TaskQueue } from '@shipdeck/queue';
import { artemisDeleteQueue, artemisUrls, requireArtemis } from './artemis';
import { BrokerLeftovers, recordingLogger, taskMessage, until } from './support';

jest.setTimeout(60_000);

const leftovers = new BrokerLeftovers();

async function open(url: string, queueName: string): Promise<TaskQueue> {
  return leftovers.keep(await openTaskQueue({ url, name: queueName, dialect: 'auto', logger: recordingLogger() }));
}

const newQueueName = () => leftovers.newQueueName(artemisDeleteQueue);

beforeAll(requireArtemis);

afterEach(() => leftovers.cleanUp());

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
  const withRoles = roles ? it : it.skip;

  withRoles('refuses anonymous connections', async () => {
    const anonymous = new URL(urls.amqp);
    anonymous.username = '';
    anonymous.password = '';
    await expect(openTaskQueue({ url: anonymous.href, name: 'shipdeck-tasks', dialect: 'artemis', logger: recordingLogger() })).rejects.toThrow(
      /not reachable/,
    );
  });

  withRoles.each(['amqp', 'stomp'] as const)('lets a worker user consume over %s, and refuses its publish without retrying', async (protocol) => {
    const { master, worker } = roles ?? {};
    if (!master || !worker) throw new Error('the local Artemis instance has no per-role users');
    const queueName = 'shipdeck-tasks'; // declared in broker.xml: the roles have no right to create queues
    const workerLog = recordingLogger();
    const asWorker = await openTaskQueue({ url: worker[protocol], name: queueName, dialect: 'auto', logger: workerLog, publishTimeoutMs: 10_000 });
    leftovers.keep(asWorker);
    const asMaster = await open(master[protocol === 'amqp' ? 'stomp' : 'amqp'], queueName);
    const id = `sec-${randomUUID()}`;
    const received: string[] = [];
    await asWorker.consume({ capacity: 1, selectorConfigHash: id }, async (delivery) => {
      received.push(delivery.message.taskId);
      await delivery.accept();
    });
    await asMaster.publish(taskMessage(id, id));
    await until(() => received.includes(id), 'the worker to consume the master message');
    const started = Date.now();
    const failure = await asWorker.publish(taskMessage('forbidden', id)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TaskPublishError);
    expect((failure as TaskPublishError).retryable).toBe(false);
    expect((failure as Error).message).toMatch(protocol === 'amqp' ? /refused .*permission='SEND'/ : /refused .*AMQ339011/);
    expect(Date.now() - started).toBeLessThan(5000); // refused, not timed out
    if (protocol === 'amqp') {
      // The refused publishing link did not take the consumer's connection down with it.
      expect(workerLog.lines.some((line) => /-> reconnecting/.test(line.message))).toBe(false);
    }
  });
});

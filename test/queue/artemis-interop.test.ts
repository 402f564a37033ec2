import { randomUUID } from 'node:crypto';
import { openTaskQueue, TaskMessage, TaskPublishError, TaskQueue } from '@shipdeck/queue';
import { artemisDeleteQueue, artemisQueueCounts, artemisUrls, requireArtemis } from './artemis';
import { startStompProxy, type SeenFrame, type StompProxyRules } from './stomp-proxy';
import { BrokerLeftovers, recordingLogger, taskMessage, until } from './support';

jest.setTimeout(60_000);

const leftovers = new BrokerLeftovers();

async function open(url: string, queueName: string, logger = recordingLogger()): Promise<TaskQueue> {
  return leftovers.keep(await openTaskQueue({ url, name: queueName, dialect: 'auto', logger }));
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

describe('Artemis over STOMP: a MESSAGE that comes after the RECEIPT of its subscription\'s UNSUBSCRIBE', () => {
  // Artemis 2.40 writes such a MESSAGE when a delivery to a subscription with window left races
  // its UNSUBSCRIBE: the queue thread hands the message to the consumer and writes the frame
  // through Netty's task queue; the UNSUBSCRIBE, on the connection's event loop, waits for that
  // delivery, closes the consumer (which takes the message back into the queue) and writes its
  // RECEIPT at once — ahead of the queued MESSAGE. A consumer must leave that MESSAGE alone (the
  // broker has it back) and keep its connection. The proxy puts the order on the wire every time.

  /** Tracks UNSUBSCRIBEs and their RECEIPTs; `confirmed(id)` resolves once the client has been sent the RECEIPT. */
  function unsubscribes() {
    const receipts = new Map<string, string>();
    const confirmations = new Map<string, { promise: Promise<void>; resolve: () => void }>();
    const confirmation = (id: string) => {
      let entry = confirmations.get(id);
      if (!entry) {
        let resolve = () => undefined as void;
        const promise = new Promise<void>((done) => (resolve = done));
        entry = { promise, resolve };
        confirmations.set(id, entry);
      }
      return entry;
    };
    return {
      sent(frame: SeenFrame): void {
        if (frame.command === 'UNSUBSCRIBE' && frame.headers.receipt !== undefined) receipts.set(frame.headers.receipt, frame.headers.id ?? '');
      },
      received(frame: SeenFrame): void {
        const id = frame.command === 'RECEIPT' ? receipts.get(frame.headers['receipt-id'] ?? '') : undefined;
        // Resolved now, a held frame waiting on it goes out right after this RECEIPT.
        if (id !== undefined) confirmation(id).resolve();
      },
      confirmed: (id: string) => confirmation(id).promise,
    };
  }

  async function proxied(rules: StompProxyRules) {
    return leftovers.keep(await startStompProxy(artemisUrls().stomp, rules));
  }

  /** What the queue logged about its connection failing or being replaced. */
  const connectionTrouble = (log: ReturnType<typeof recordingLogger>) =>
    log.lines.filter((line) => line.level !== 'debug' && /connection|reconnect|session/i.test(line.message)).map((line) => line.message);

  async function settledEmpty(queueName: string): Promise<void> {
    let counts: Awaited<ReturnType<typeof artemisQueueCounts>> | undefined;
    await until(async () => {
      counts = await artemisQueueCounts(queueName);
      return counts.messages === 0 && counts.delivering === 0;
    }, 'the queue to be empty with nothing in flight').catch((error: unknown) => {
      throw new Error(`${String(error)}: ${JSON.stringify(counts)}`);
    });
  }

  it('pause: the message racing the free slot\'s UNSUBSCRIBE stays with the broker, the connection stays up', async () => {
    const queueName = newQueueName();
    const tracked = unsubscribes();
    const held: SeenFrame[] = [];
    let late = 0;
    const proxy = await proxied({
      fromClient: (frame) => void tracked.sent(frame),
      fromBroker: (frame) => {
        tracked.received(frame);
        if (frame.command !== 'MESSAGE') return undefined;
        held.push(frame);
        return tracked.confirmed(frame.headers.subscription ?? '').then(() => void late++);
      },
    });
    const log = recordingLogger();
    const worker = await open(proxy.url, queueName, log);
    const handled: string[] = [];
    const consumer = await worker.consume({ capacity: 1 }, async (delivery) => {
      handled.push(delivery.message.taskId);
      await delivery.accept();
    });
    await until(async () => (await artemisQueueCounts(queueName).catch(() => undefined))?.consumers === 1, 'the free slot to subscribe');
    const master = await open(artemisUrls().stomp, queueName);
    await master.publish(taskMessage('raced-1'));
    await until(() => held.length === 1, 'Artemis to deliver the message to the free slot');

    await consumer.pause();
    // A round trip on the same connection: its RECEIPT reaches the worker after the late MESSAGE.
    await worker.publish(taskMessage('after-1'));

    expect(late).toBe(1);
    expect(connectionTrouble(log)).toEqual([]);
    expect(proxy.accepted).toBe(1);
    expect(handled).toEqual([]);
    // Both messages are in the queue for another consumer: nothing is held, nothing orphaned.
    const received: string[] = [];
    await (
      await open(artemisUrls().stomp, queueName)
    ).consume({ capacity: 2 }, async (delivery) => {
      received.push(delivery.message.taskId);
      await delivery.accept();
    });
    await until(() => received.length === 2, 'both messages at another consumer');
    expect(received.sort()).toEqual(['after-1', 'raced-1']);
    await settledEmpty(queueName);
  });

  it('accept: the next message, delivered between the ACK and the UNSUBSCRIBE, comes back on the next subscription; the connection stays up', async () => {
    const queueName = newQueueName();
    const master = await open(artemisUrls().stomp, queueName);
    await master.publish(taskMessage('acc-1'));
    await master.publish(taskMessage('acc-2'));
    const tracked = unsubscribes();
    let first: string | undefined;
    let firstMessages = 0;
    let late = 0;
    let secondDelivered = () => undefined as void;
    const second = new Promise<void>((resolve) => (secondDelivered = resolve));
    const proxy = await proxied({
      fromClient: (frame) => {
        tracked.sent(frame);
        if (frame.command === 'SUBSCRIBE') first ??= frame.headers.id;
        // The first slot's UNSUBSCRIBE reaches Artemis only after the window its ACK reopened took the next message.
        return frame.command === 'UNSUBSCRIBE' && frame.headers.id === first ? second : undefined;
      },
      fromBroker: (frame) => {
        tracked.received(frame);
        if (frame.command !== 'MESSAGE' || frame.headers.subscription !== first || ++firstMessages === 1) return undefined;
        secondDelivered();
        return tracked.confirmed(first).then(() => void late++);
      },
    });
    const log = recordingLogger();
    const worker = await open(proxy.url, queueName, log);
    const handled: string[] = [];
    await worker.consume({ capacity: 1 }, async (delivery) => {
      handled.push(delivery.message.taskId);
      await delivery.accept();
    });
    await until(() => handled.length === 2, 'both messages at the worker');

    expect([firstMessages, late]).toEqual([2, 1]);
    expect(handled).toEqual(['acc-1', 'acc-2']);
    expect(connectionTrouble(log)).toEqual([]);
    expect(proxy.accepted).toBe(1);
    await settledEmpty(queueName);
  });
});

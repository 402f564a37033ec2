import { EventEmitter } from 'node:events';
import { TASK_MESSAGE_VERSION } from '../message';
import { Delivery } from '../port';
import { AmqpConsumer, ConsumerHost } from './amqp-consumer';
import { rabbitmqDialect } from './dialects/rabbitmq';
import { encodeTaskMessage } from './envelope';
import { compileAmqpOptions } from './options';
import { Wire } from './wire';

/** A receiver link that the test drives: it counts credit like rhea and records settlements. */
class FakeReceiver extends EventEmitter {
  credit = 0;
  readonly grants: number[] = [];
  drained = false;
  closed = false;
  readonly error = undefined;
  add_credit(credit: number) {
    this.credit += credit;
    this.grants.push(credit);
  }
  drain_credit() {
    this.drained = true;
    setImmediate(() => {
      this.credit = 0;
      this.emit('receiver_drained');
    });
  }
  close() {
    this.closed = true;
    setImmediate(() => this.emit('receiver_close'));
  }
  /** The broker sends a transfer (with or without credit for it). */
  transfer(taskId: string, body?: unknown): string[] {
    const settlements: string[] = [];
    const delivery = {
      accept: () => settlements.push('accept'),
      release: (options?: unknown) => settlements.push(options ? 'modified' : 'release'),
    };
    this.credit = Math.max(0, this.credit - 1);
    const message = encodeTaskMessage({
      version: TASK_MESSAGE_VERSION,
      taskId,
      taskType: 'CONTROL',
      configHash: 'h',
      publishedBy: 'm',
      publishedAt: '2026-01-01T00:00:00.000Z',
    });
    if (body !== undefined) message.body = body;
    this.emit('message', { delivery, message });
    return settlements;
  }
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

function setup(capacity: number) {
  const receivers: FakeReceiver[] = [];
  const makeWire = (id: number): Wire => ({
    id,
    connection: {
      open_receiver: () => {
        const receiver = new FakeReceiver();
        receivers.push(receiver);
        return receiver;
      },
    } as never,
    senderReady: false,
    inFlight: new Map(),
    dropped: false,
  });
  const failures: string[] = [];
  const host: ConsumerHost = {
    options: compileAmqpOptions({ url: 'amqp://h', queueName: 'q', dialect: 'rabbitmq', logger: silent, closeTimeoutMs: 200 }),
    dialect: rabbitmqDialect,
    connectionFailed: (_wire, reason) => void failures.push(reason),
    forget: () => undefined,
  };
  const held: { delivery: Delivery; finish: () => void; fail: (error: Error) => void }[] = [];
  const consumer = new AmqpConsumer(host, 'c1', { capacity }, (delivery) => new Promise<void>((finish, fail) => held.push({ delivery, finish, fail })));
  return { consumer, receivers, makeWire, held, failures };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('AmqpConsumer capacity-based prefetch', () => {
  it('grants the free slots on attach, and again once the credit is used up and a slot frees', async () => {
    const { consumer, receivers, makeWire, held } = setup(3);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_open');
    await attached;
    expect(receivers[0].grants).toEqual([3]);
    receivers[0].transfer('a');
    receivers[0].transfer('b');
    held[0].finish();
    await tick();
    expect(receivers[0].grants).toEqual([3]); // credit 1 still left: no flow yet
    receivers[0].transfer('c'); // last credit used while one slot is free: grant it now
    expect(receivers[0].grants).toEqual([3, 1]);
    held[1].finish();
    await tick();
    expect(receivers[0].grants).toEqual([3, 1]); // credit 1 left: no flow
    receivers[0].transfer('d'); // c and d held, credit used up, one slot free
    expect(receivers[0].grants).toEqual([3, 1, 1]);
    held[2].finish();
    await tick();
    expect(receivers[0].grants).toEqual([3, 1, 1]);
    expect(consumer.heldCount).toBe(1);
  });

  it('releases a delivery beyond capacity without showing it to the handler', async () => {
    const { consumer, receivers, makeWire, held } = setup(2);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_open');
    await attached;
    receivers[0].transfer('a');
    receivers[0].transfer('b');
    expect(receivers[0].transfer('overshoot')).toEqual(['release']);
    expect(held.map((h) => h.delivery.message.taskId)).toEqual(['a', 'b']);
  });

  it('drops a malformed message (accepted) and regrants its credit', async () => {
    const { consumer, receivers, makeWire, held } = setup(1);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_open');
    await attached;
    expect(receivers[0].transfer('x', 'garbage')).toEqual(['accept']);
    expect(held).toHaveLength(0);
    expect(receivers[0].grants).toEqual([1, 1]);
  });

  it('frees the slot when the handler fails, releasing what it left unsettled', async () => {
    const { consumer, receivers, makeWire, held } = setup(1);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_open');
    await attached;
    const settlements = receivers[0].transfer('a');
    held[0].fail(new Error('boom'));
    await tick();
    expect(settlements).toEqual(['release']);
    expect(consumer.heldCount).toBe(0);
    expect(receivers[0].grants).toEqual([1, 1]);
  });

  it('refuses to settle a delivery twice', async () => {
    const { consumer, receivers, makeWire, held } = setup(1);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_open');
    await attached;
    const settlements = receivers[0].transfer('a');
    await held[0].delivery.accept();
    await expect(held[0].delivery.handBack()).rejects.toThrow(/already settled/);
    expect(settlements).toEqual(['accept']);
  });

  it('on pause drains the link and releases what still arrives; held deliveries can still be settled', async () => {
    const { consumer, receivers, makeWire, held } = setup(2);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_open');
    await attached;
    const first = receivers[0].transfer('a');
    await consumer.pause();
    expect(receivers[0].drained).toBe(true);
    expect(receivers[0].transfer('late')).toEqual(['release']);
    await held[0].delivery.accept();
    held[0].finish();
    await tick();
    expect(first).toEqual(['accept']);
    expect(receivers[0].grants).toEqual([2]); // no credit after pause
    expect(held).toHaveLength(1);
  });

  it('re-attaches on a new wire with credit for the slots still free; old deliveries settle as no-ops', async () => {
    const { consumer, receivers, makeWire, held } = setup(3);
    const wire1 = makeWire(1);
    const attached = consumer.attach(wire1);
    receivers[0].emit('receiver_open');
    await attached;
    const old = receivers[0].transfer('a');
    wire1.dropped = true;
    consumer.connectionLost(wire1);
    const reattached = consumer.attach(makeWire(2));
    receivers[1].emit('receiver_open');
    await reattached;
    expect(receivers[1].grants).toEqual([2]); // one slot still held by the old delivery
    await expect(held[0].delivery.accept()).resolves.toBeUndefined();
    expect(old).toEqual([]);
    held[0].finish();
    await tick();
    expect(receivers[1].grants).toEqual([2]); // credit 2 left on the new link
    receivers[1].transfer('b');
    receivers[1].transfer('c');
    expect(receivers[1].grants).toEqual([2, 1]); // last credit used, one slot free
  });

  it('fails the wire when the broker closes the link, and rejects a refused attach', async () => {
    const { consumer, receivers, makeWire, failures } = setup(1);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_close');
    await expect(attached).rejects.toThrow(/refused a consumer link/);
    expect(failures).toHaveLength(1);
  });

  it('closes idempotently, closing the link once', async () => {
    const { consumer, receivers, makeWire } = setup(1);
    const attached = consumer.attach(makeWire(1));
    receivers[0].emit('receiver_open');
    await attached;
    await Promise.all([consumer.close(), consumer.close()]);
    await consumer.close();
    expect(receivers[0].closed).toBe(true);
    expect(consumer.state).toBe('closed');
  });
});

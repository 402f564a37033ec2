import { InProcessTaskQueue } from './in-process-queue';
import { Delivery } from './port';
import { TASK_MESSAGE_VERSION, TaskMessage } from './message';

const message = (taskId: string): TaskMessage => ({
  version: TASK_MESSAGE_VERSION,
  taskId,
  taskType: 'CONTROL',
  configHash: 'h',
  publishedBy: 'm',
  publishedAt: new Date().toISOString(),
});

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

describe('InProcessTaskQueue', () => {
  it('never holds more deliveries than the capacity, and frees a slot when the handler ends', async () => {
    const queue = new InProcessTaskQueue();
    const held: { delivery: Delivery; finish: () => void }[] = [];
    await queue.consume({ capacity: 3 }, (delivery) => new Promise<void>((finish) => held.push({ delivery, finish })));
    for (let i = 0; i < 5; i++) await queue.publish(message(`t${i}`));
    await until(() => held.length === 3);
    await new Promise((r) => setImmediate(r));
    expect(held.map((h) => h.delivery.message.taskId)).toEqual(['t0', 't1', 't2']);
    expect(queue.depth).toBe(2);
    await held[0].delivery.accept();
    held[0].finish();
    await until(() => held.length === 4);
    expect(held[3].delivery.message.taskId).toBe('t3');
  });

  it('gives a handed-back message to the next consumer', async () => {
    const queue = new InProcessTaskQueue();
    const seen: string[] = [];
    const first = await queue.consume({ capacity: 1 }, async (d) => {
      seen.push(`first:${d.message.taskId}`);
      await d.handBack();
      await first.pause();
    });
    await queue.publish(message('a'));
    await until(() => seen.length === 1);
    await queue.consume({ capacity: 1 }, async (d) => {
      seen.push(`second:${d.message.taskId}`);
      await d.accept();
    });
    await until(() => seen.length === 2);
    expect(seen).toEqual(['first:a', 'second:a']);
  });

  it('refuses to settle a delivery twice', async () => {
    const queue = new InProcessTaskQueue();
    const errors: unknown[] = [];
    await queue.consume({ capacity: 1 }, async (d) => {
      await d.accept();
      await d.accept().catch((e: unknown) => errors.push(e));
    });
    await queue.publish(message('x'));
    await until(() => errors.length === 1);
    expect(String(errors[0])).toContain('already settled');
  });
});

import { NotReadyError } from '@shipdeck/errors';
import { TaskMessage } from './message';
import { ConsumeOptions, DeliveryHandler, TaskConsumer, TaskQueue } from './port';

interface Subscription {
  capacity: number;
  held: number;
  paused: boolean;
  handler: DeliveryHandler;
}

/**
 * The queue of the embedded default: one process, no broker. Same contract as the broker
 * adapters (capacity-bounded deliveries, accept, hand back), so the in-process worker runs the
 * exact code an external worker runs. Messages live in memory; the reconciler republishes
 * queued tasks after a restart, so nothing depends on this queue surviving one.
 */
export class InProcessTaskQueue implements TaskQueue {
  private readonly pending: TaskMessage[] = [];
  private readonly subscriptions: Subscription[] = [];
  private closed = false;
  private dispatching = false;

  async publish(message: TaskMessage): Promise<void> {
    if (this.closed) throw new Error('task queue is closed');
    this.pending.push(message);
    this.dispatchSoon();
  }

  async consume(options: ConsumeOptions, handler: DeliveryHandler): Promise<TaskConsumer> {
    const subscription: Subscription = { capacity: options.capacity, held: 0, paused: false, handler };
    this.subscriptions.push(subscription);
    this.dispatchSoon();
    const stop = async () => {
      subscription.paused = true;
    };
    return {
      pause: stop,
      close: async () => {
        await stop();
        const index = this.subscriptions.indexOf(subscription);
        if (index >= 0) this.subscriptions.splice(index, 1);
      },
    };
  }

  async checkReady(): Promise<void> {
    if (this.closed) throw new NotReadyError('the in-process task queue is closed');
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscriptions.length = 0;
  }

  /** Number of messages waiting for a consumer (for tests and health). */
  get depth(): number {
    return this.pending.length;
  }

  private dispatchSoon(): void {
    if (this.dispatching) return;
    this.dispatching = true;
    queueMicrotask(() => {
      this.dispatching = false;
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.pending.length > 0) {
      const subscription = this.subscriptions.find((s) => !s.paused && s.held < s.capacity);
      if (!subscription) return;
      this.deliver(subscription, this.pending.shift() as TaskMessage);
    }
  }

  private deliver(subscription: Subscription, message: TaskMessage): void {
    subscription.held++;
    let settled = false;
    const settle = () => {
      if (settled) throw new Error(`delivery of task ${message.taskId} was already settled`);
      settled = true;
    };
    const delivery = {
      message,
      accept: async () => settle(),
      handBack: async () => {
        settle();
        this.pending.unshift(message);
        this.dispatchSoon();
      },
    };
    const release = () => {
      subscription.held--;
      if (!settled) this.pending.unshift(message);
      this.dispatchSoon();
    };
    subscription.handler(delivery).then(release, release);
  }
}

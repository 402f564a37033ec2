import { ConsumeOptions, Delivery, DeliveryHandler, TaskConsumer, TaskQueue } from '@shipdeck/queue';

/**
 * A view of a task queue for one worker whose link can be severed, as when its process is
 * SIGKILLed: the broker stops delivering to it, takes back every delivery it had not settled,
 * and ignores whatever the dead worker would still try to settle.
 */
export class SeverableQueue implements TaskQueue {
  private severed = false;
  private cut!: () => void;
  private readonly cutOff = new Promise<void>((resolve) => (this.cut = resolve));
  private readonly consumers: TaskConsumer[] = [];

  constructor(private readonly queue: TaskQueue) {}

  publish(...args: Parameters<TaskQueue['publish']>): Promise<void> {
    return this.queue.publish(...args);
  }

  checkReady(): Promise<void> {
    return this.queue.checkReady();
  }

  close(): Promise<void> {
    return this.sever();
  }

  async consume(options: ConsumeOptions, handler: DeliveryHandler): Promise<TaskConsumer> {
    const consumer = await this.queue.consume(options, (delivery) =>
      // The handler's end releases the delivery; severing releases it at once, unsettled.
      Promise.race([handler(this.guarded(delivery)), this.cutOff]),
    );
    this.consumers.push(consumer);
    return consumer;
  }

  /** Cuts the link: no more deliveries, unsettled ones go back to the queue. */
  async sever(): Promise<void> {
    if (this.severed) return;
    this.severed = true;
    for (const consumer of this.consumers) await consumer.close();
    this.cut();
  }

  private guarded(delivery: Delivery): Delivery {
    return {
      message: delivery.message,
      accept: async () => {
        if (!this.severed) await delivery.accept();
      },
      handBack: async () => {
        if (!this.severed) await delivery.handBack();
      },
    };
  }
}

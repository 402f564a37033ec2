import { TaskMessage } from './message';

/** One message handed to a consumer. Settle it exactly once. */
export interface Delivery {
  readonly message: TaskMessage;
  /** The broker may forget the message. */
  accept(): Promise<void>;
  /** Give the message back so that another consumer gets it. */
  handBack(): Promise<void>;
}

/**
 * Handles one delivery. The consumer's slot stays taken until the returned promise settles, which
 * is how capacity-based prefetch works: settle the delivery early (after the claim), resolve the
 * promise when the task's work is over.
 */
export type DeliveryHandler = (delivery: Delivery) => Promise<void>;

export interface ConsumeOptions {
  /** The most deliveries held at once (executing + delivered-not-yet-claimed). */
  capacity: number;
  /**
   * The consumer's configuration hash. Where the broker can filter (Artemis: a JMS selector on
   * the `configHash` property) only messages carrying this hash are delivered; elsewhere it is
   * ignored, so the handler must still check the hash itself. Optional: without it, every
   * message is delivered.
   */
  selectorConfigHash?: string;
}

export interface TaskConsumer {
  /** Stop asking for messages; deliveries already handed to the handler go on. Idempotent. */
  pause(): Promise<void>;
  /** Stop consuming and close the link; unsettled deliveries go back to the queue. Idempotent. */
  close(): Promise<void>;
}

/** The broker-neutral port. Adapters: in-process (embedded default), AMQP 1.0 (rhea), STOMP. */
export interface TaskQueue {
  /** Resolves only once the broker has accepted the message durably. */
  publish(message: TaskMessage): Promise<void>;
  consume(options: ConsumeOptions, handler: DeliveryHandler): Promise<TaskConsumer>;
  /** Resolves when messages can be published now; throws NotReadyError (HTTP 503) otherwise. */
  checkReady(): Promise<void>;
  /** Closes every link and connection. Idempotent. */
  close(): Promise<void>;
}

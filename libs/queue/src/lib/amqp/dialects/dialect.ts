import type { Delivery as RheaDelivery, Source, TargetTerminusOptions } from 'rhea';
import type { LevelLogger } from '@shipdeck/logging';
import type { AmqpDialectName, AmqpEndpoint } from '../options';

/** What a dialect's start-up preparation gets to work with. */
export interface DialectContext {
  /** The queue URL as configured. */
  url: string;
  endpoint: AmqpEndpoint;
  queueName: string;
  logger: LevelLogger;
}

/**
 * Everything that differs between AMQP 1.0 brokers, in one small object per broker: how a queue
 * is addressed, how a message is given back, what the broker must have before links attach.
 * The rest of the adapter is plain AMQP 1.0.
 */
export interface AmqpDialect {
  readonly name: AmqpDialectName;
  /** Whether the broker filters a consumer link by a JMS selector on `configHash`. */
  readonly honoursSelector: boolean;
  /** The `hostname` field of the open frame (RabbitMQ selects the virtual host with it). */
  openHostname(endpoint: AmqpEndpoint): string | undefined;
  /** Source terminus of a consumer link; `selectorConfigHash` only matters where honoured. */
  source(queueName: string, selectorConfigHash?: string): Source;
  /** Target terminus of the publishing link. */
  target(queueName: string): TargetTerminusOptions;
  /** Gives a delivery back so that another consumer gets it (the handler's decision). */
  handBack(delivery: RheaDelivery): void;
  /** Makes the broker ready for the links (e.g. declares the queue); runs once at start. */
  prepare(context: DialectContext): Promise<void>;
}

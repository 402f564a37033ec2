import type { AmqpDialectName } from '../options';
import { artemisDialect } from './artemis';
import { AmqpDialect } from './dialect';
import { rabbitmqDialect } from './rabbitmq';

const DIALECTS: Record<AmqpDialectName, AmqpDialect> = {
  artemis: artemisDialect,
  rabbitmq: rabbitmqDialect,
};

export function dialectByName(name: AmqpDialectName): AmqpDialect {
  return DIALECTS[name];
}

/** What the broker says about itself in the `properties` of its open frame. */
export interface BrokerIdentity {
  product?: string;
  version?: string;
}

export function brokerIdentity(properties: Record<string, unknown> | undefined): BrokerIdentity {
  const text = (value: unknown) => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : undefined);
  return { product: text(properties?.product), version: text(properties?.version) };
}

/**
 * The dialect for a broker's open-frame properties: RabbitMQ says `product: RabbitMQ`, Artemis
 * `product: apache-activemq-artemis`. Anything else is spoken to as Artemis (plain AMQP 1.0 with
 * the `queue` capability), and `known` says so.
 */
export function detectDialect(properties: Record<string, unknown> | undefined): { dialect: AmqpDialectName; known: boolean } {
  const product = brokerIdentity(properties).product?.toLowerCase() ?? '';
  if (product.includes('rabbitmq')) return { dialect: 'rabbitmq', known: true };
  if (product.includes('artemis')) return { dialect: 'artemis', known: true };
  return { dialect: 'artemis', known: false };
}

import { AmqpDialect } from './dialect';
import { declareQuorumQueue } from './rabbitmq-queue';

/**
 * RabbitMQ 3.10+ with the `rabbitmq_amqp1_0` plugin. The queue is addressed as
 * `/amq/queue/NAME`, which requires it to exist: it is declared at start over AMQP 0-9-1 as a
 * durable quorum queue (AMQP 1.0 cannot declare it; `/queue/NAME` would re-declare it with the
 * link's durability and fail). A message is given back with a plain *released*: RabbitMQ 3.10
 * answers *modified* by ending the session. Every requeue increments a quorum queue's delivery
 * count. RabbitMQ ignores selectors (3.10 echoes the filter back, so the client cannot tell);
 * the consumer's own hash check is what protects it.
 */
export const rabbitmqDialect: AmqpDialect = {
  name: 'rabbitmq',
  honoursSelector: false,
  openHostname: (endpoint) => (endpoint.vhost === undefined ? undefined : `vhost:${endpoint.vhost}`),
  source: (queueName) => ({ address: rabbitmqQueueAddress(queueName) }),
  target: (queueName) => ({ address: rabbitmqQueueAddress(queueName) }),
  handBack: (delivery) => delivery.release(),
  prepare: (context) => declareQuorumQueue(context),
};

export function rabbitmqQueueAddress(queueName: string): string {
  return `/amq/queue/${queueName}`;
}

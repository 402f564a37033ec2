import { filter } from 'rhea';
import { MessageProperty } from '../../message';
import { AmqpDialect } from './dialect';

/** The capability that makes Artemis route to an ANYCAST queue, not a MULTICAST address. */
const QUEUE_CAPABILITY = 'queue';

/**
 * ActiveMQ Artemis. The queue is addressed by its name with the `queue` capability (without it
 * an auto-created address may be MULTICAST: every consumer would get a copy). Artemis honours a
 * JMS selector, so a consumer can take only the messages of its configuration hash. A message is
 * given back as *modified* (delivery failed, undeliverable here): that counts toward Artemis's
 * `max-delivery-attempts`, where a plain *released* would not and could loop forever.
 */
export const artemisDialect: AmqpDialect = {
  name: 'artemis',
  honoursSelector: true,
  openHostname: (endpoint) => endpoint.host,
  source: (queueName, selectorConfigHash) => ({
    address: queueName,
    capabilities: [QUEUE_CAPABILITY],
    ...(selectorConfigHash === undefined ? {} : { filter: filter.selector(configHashSelector(selectorConfigHash)) }),
  }),
  target: (queueName) => ({ address: queueName, capabilities: [QUEUE_CAPABILITY] }),
  handBack: (delivery) => delivery.release({ delivery_failed: true, undeliverable_here: true }),
  // Artemis auto-creates the (durable, ANYCAST) queue on the first attach; the production
  // broker.xml declares it explicitly.
  prepare: async () => undefined,
};

/** The JMS selector that matches messages of one configuration hash (a quote is doubled, as JMS wants). */
export function configHashSelector(configHash: string): string {
  return `${MessageProperty.configHash} = '${configHash.replace(/'/g, "''")}'`;
}

/**
 * The brokers and protocols the upgrade and poison tests run on: RabbitMQ over AMQP 1.0, and
 * ActiveMQ Artemis over AMQP 1.0 and over STOMP (the local instance of `artemis-broker/start-local`,
 * or SHIPDECK_TEST_ARTEMIS_*_URL). On Artemis, workers consume with a `configHash` selector: a
 * message of another configuration never reaches them.
 */
import { TaskMessage, openTaskQueue } from '@shipdeck/queue';
import { artemisPublishRaw, artemisUrls } from '../queue/artemis';
import { artemisReadyCountIfAny, queueTransport } from '../queue/transports';
import type { ClusterOptions } from '../support/cluster';
import { TEST_AMQP_URL, queueStatus } from '../support/services';
import { publishRaw } from './support';

export interface UpgradeTransport {
  readonly name: 'rabbitmq-amqp' | 'artemis-amqp' | 'artemis-stomp';
  /** Whether workers get only messages of their own configuration hash (a broker-side selector). */
  readonly selector: boolean;
  /** What {@link startCluster} needs to run the cluster on this transport. */
  clusterOptions(): Pick<ClusterOptions, 'amqpUrl' | 'queueBroker'>;
  /** Publishes messages as a stale or forging publisher would: the envelope (properties and body) as given. */
  publish(queueName: string, messages: readonly TaskMessage[]): Promise<void>;
  /** Publishes a body that is no task message at all. */
  publishMalformed(queueName: string, body: string): Promise<void>;
  /** Messages in the queue that no consumer holds. */
  readyCount(queueName: string): Promise<number>;
}

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

const rabbitmq: UpgradeTransport = {
  name: 'rabbitmq-amqp',
  selector: false,
  clusterOptions: () => ({ amqpUrl: TEST_AMQP_URL }),
  publish: (queueName, messages) => publishRaw(TEST_AMQP_URL, queueName, [...messages]),
  publishMalformed: (queueName, body) => publishRaw(TEST_AMQP_URL, queueName, [body]),
  readyCount: async (queueName) => (await queueStatus(queueName, TEST_AMQP_URL)).ready,
};

/** Artemis, with the processes speaking `protocol`; test plumbing always goes over AMQP. */
function artemis(protocol: 'amqp' | 'stomp'): UpgradeTransport {
  return {
    name: protocol === 'amqp' ? 'artemis-amqp' : 'artemis-stomp',
    selector: true,
    clusterOptions: () => queueTransport(`artemis-${protocol}`).clusterOptions(),
    async publish(queueName, messages) {
      // The product's AMQP adapter writes the envelope a master writes (configHash property
      // included, for the selector), with whatever signature the message carries, or none.
      const queue = await openTaskQueue({ url: artemisUrls().amqp, name: queueName, dialect: 'artemis', logger: silent });
      try {
        for (const message of messages) await queue.publish(message);
      } finally {
        await queue.close();
      }
    },
    publishMalformed: (queueName, body) => artemisPublishRaw(queueName, Buffer.from(body)),
    readyCount: artemisReadyCountIfAny,
  };
}

/** Every transport, in the order the suites run them. */
export const UPGRADE_TRANSPORTS: readonly UpgradeTransport[] = [rabbitmq, artemis('amqp'), artemis('stomp')];

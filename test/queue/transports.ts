import type { QueueMetrics } from '@shipdeck/metrics';
import { openTaskQueue, TaskQueue } from '@shipdeck/queue';
import type { ClusterOptions } from '../support/cluster';
import { createVhost, queueCounts } from '../support/services';
import { artemisDeleteQueue, artemisPublishRaw, artemisQueueCounts, artemisQueueState, artemisReadyCount, artemisUrls, requireArtemis } from './artemis';
import { AMQP_URL, deleteQueue, publishRaw, readyCount, recordingLogger, requireBroker, startTcpProxy } from './support';

export type TransportName = 'rabbitmq-amqp' | 'artemis-amqp' | 'artemis-stomp';

/** A place on the broker that a test may disrupt: every connection through `url` can be killed. */
export interface Isolated {
  url: string;
  /** What was set up, for logs (no credentials): a virtual host, a proxy. */
  what: string;
  /** Ends every connection made through `url` (broker-side where the broker can, else the network); answers how many. */
  kill(): Promise<number>;
  drop(): Promise<void>;
}

/** One broker + protocol the queue contract runs on, with the plumbing its tests need. */
export interface QueueTransport {
  readonly name: TransportName;
  readonly broker: 'rabbitmq' | 'artemis';
  readonly protocol: 'amqp' | 'stomp';
  /** Whether consumers get only messages of their configuration hash (a broker-side selector). */
  readonly honoursSelector: boolean;
  url(): string;
  /** Fails with a message saying what to start when the broker is not usable. */
  require(): Promise<void>;
  open(options: OpenOptions): Promise<TaskQueue>;
  deleteQueue(queueName: string, url?: string): Promise<void>;
  /** Messages in the queue that no consumer holds. */
  readyCount(queueName: string, url?: string): Promise<number>;
  /** Messages ready, and delivered but not settled (unacked), in the queue. */
  queueCounts(queueName: string, url?: string): Promise<{ ready: number; unacked: number }>;
  /**
   * What {@link startCluster} needs to run masters and workers on this transport: `task.queue.url`
   * (`url`, e.g. an {@link Isolated} one, or the transport's), and the broker's own plumbing.
   */
  clusterOptions(url?: string): Pick<ClusterOptions, 'amqpUrl' | 'queueBroker'>;
  /** What the broker holds for the queue, for failure reports (where the broker can tell). */
  queueState?(queueName: string): Promise<string>;
  /**
   * Deliveries the broker keeps in flight for consumers that are gone, after their connection was
   * cut — set only where the broker is known to do so: Artemis 2.40's STOMP connection cleanup
   * (fixtures/artemis-stomp-orphans.ts reproduces it without Shipdeck code). Such a message is not
   * lost: the broker counts it and gives it back at its next restart, and Shipdeck's reconciler
   * republishes a task whose message does not arrive (task.reconcileAfter).
   */
  orphanedDeliveries?(queueName: string): Promise<number>;
  /** Puts bytes on the queue without the adapter's envelope. */
  publishRaw(queueName: string, body: Buffer): Promise<void>;
  isolate(): Promise<Isolated>;
}

export interface OpenOptions {
  queueName: string;
  logger?: ReturnType<typeof recordingLogger>;
  url?: string;
  publishTimeoutMs?: number;
  reconnect?: { initialDelayMs: number; maxDelayMs: number };
  metrics?: QueueMetrics;
}

function opener(transport: () => QueueTransport) {
  return (options: OpenOptions) =>
    openTaskQueue({
      url: options.url ?? transport().url(),
      name: options.queueName,
      dialect: transport().broker === 'rabbitmq' && transport().protocol === 'amqp' ? 'rabbitmq' : 'artemis',
      logger: options.logger ?? recordingLogger(),
      reconnect: options.reconnect ?? { initialDelayMs: 50, maxDelayMs: 1000 },
      metrics: options.metrics,
      ...(options.publishTimeoutMs === undefined ? {} : { publishTimeoutMs: options.publishTimeoutMs }),
    });
}

/** A TCP proxy in front of the broker: killing cuts every connection through it. */
async function proxied(target: string): Promise<Isolated> {
  const proxy = await startTcpProxy(target);
  return {
    url: proxy.url,
    what: `TCP proxy ${new URL(proxy.url).host} in front of the broker`,
    kill: async () => {
      const open = proxy.open;
      proxy.cut();
      return open;
    },
    drop: () => proxy.close(),
  };
}

/**
 * Artemis creates a queue at the first link to it, and a master publishes nothing while no worker
 * of its configuration is there: a queue that does not exist yet holds nothing, and is deleted.
 */
function missingQueue(error: unknown): boolean {
  return /AMQ229067|AMQ229017/.test(String(error instanceof Error ? error.message : error));
}

/** Deletes the queue on an Artemis (default the tests'); one that was never created counts as deleted. */
export function artemisDeleteQueueIfAny(queueName: string, amqpUrl?: string): Promise<void> {
  return artemisDeleteQueue(queueName, amqpUrl).catch((error: unknown) => {
    if (!missingQueue(error)) throw error;
  });
}

/** Messages ready on an Artemis queue (0 for a queue not created yet). */
export function artemisReadyCountIfAny(queueName: string): Promise<number> {
  return artemisReadyCount(queueName).catch((error: unknown) => {
    if (missingQueue(error)) return 0;
    throw error;
  });
}

async function artemisReadyAndUnacked(queueName: string): Promise<{ ready: number; unacked: number }> {
  const { messages, delivering } = await artemisQueueCounts(queueName);
  return { ready: messages - delivering, unacked: delivering };
}

/** Masters and workers on the Artemis of the tests, speaking `protocol`; test plumbing goes over AMQP. */
function artemisClusterOptions(protocol: 'amqp' | 'stomp') {
  return (url?: string): Pick<ClusterOptions, 'amqpUrl' | 'queueBroker'> => ({
    amqpUrl: url ?? artemisUrls()[protocol],
    queueBroker: { require: () => requireArtemis(), deleteQueue: (queueName) => artemisDeleteQueueIfAny(queueName) },
  });
}

const rabbitmqAmqp: QueueTransport = {
  name: 'rabbitmq-amqp',
  broker: 'rabbitmq',
  protocol: 'amqp',
  honoursSelector: false,
  url: () => AMQP_URL,
  require: () => requireBroker(),
  open: opener(() => rabbitmqAmqp),
  deleteQueue: (queueName, url) => deleteQueue(queueName, url),
  readyCount: (queueName, url) => readyCount(queueName, url),
  queueCounts: (queueName, url) => queueCounts(queueName, url ?? AMQP_URL),
  clusterOptions: (url) => ({ amqpUrl: url ?? AMQP_URL }),
  publishRaw: (queueName, body) => publishRaw(queueName, body),
  isolate: async () => {
    // A virtual host of its own, whose connections the broker itself closes.
    const vhost = await createVhost(AMQP_URL);
    return { url: vhost.url, what: `virtual host ${vhost.name}`, kill: () => vhost.dropConnections('test'), drop: vhost.drop };
  },
};

const artemisAmqp: QueueTransport = {
  name: 'artemis-amqp',
  broker: 'artemis',
  protocol: 'amqp',
  honoursSelector: true,
  url: () => artemisUrls().amqp,
  require: () => requireArtemis(),
  open: opener(() => artemisAmqp),
  deleteQueue: (queueName) => artemisDeleteQueue(queueName),
  readyCount: (queueName) => artemisReadyCount(queueName),
  queueCounts: artemisReadyAndUnacked,
  clusterOptions: artemisClusterOptions('amqp'),
  queueState: artemisQueueState,
  publishRaw: artemisPublishRaw,
  isolate: () => proxied(artemisUrls().amqp),
};

const artemisStomp: QueueTransport = {
  name: 'artemis-stomp',
  broker: 'artemis',
  protocol: 'stomp',
  honoursSelector: true,
  url: () => artemisUrls().stomp,
  require: () => requireArtemis(),
  open: opener(() => artemisStomp),
  deleteQueue: (queueName) => artemisDeleteQueue(queueName),
  readyCount: (queueName) => artemisReadyCount(queueName),
  queueCounts: artemisReadyAndUnacked,
  clusterOptions: artemisClusterOptions('stomp'),
  queueState: artemisQueueState,
  orphanedDeliveries: async (queueName) => (await artemisQueueCounts(queueName)).orphaned,
  publishRaw: artemisPublishRaw,
  isolate: () => proxied(artemisUrls().stomp),
};

export const TRANSPORTS: readonly QueueTransport[] = [rabbitmqAmqp, artemisAmqp, artemisStomp];

/** The transport of this name. */
export function queueTransport(name: TransportName): QueueTransport {
  return TRANSPORTS.find((transport) => transport.name === name) as QueueTransport;
}

/** The transports to run: all, or those named in SHIPDECK_TEST_TRANSPORTS (comma-separated). */
export function selectedTransports(): QueueTransport[] {
  const wanted = process.env.SHIPDECK_TEST_TRANSPORTS?.split(',').map((name) => name.trim());
  if (!wanted) return [...TRANSPORTS];
  const unknown = wanted.filter((name) => !TRANSPORTS.some((transport) => transport.name === name));
  if (unknown.length > 0) throw new Error(`SHIPDECK_TEST_TRANSPORTS names unknown transports: ${unknown.join(', ')}`);
  return TRANSPORTS.filter((transport) => wanted.includes(transport.name));
}

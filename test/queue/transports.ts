import type { QueueMetrics } from '@shipdeck/metrics';
import { openTaskQueue, TaskQueue } from '@shipdeck/queue';
import { artemisDeleteQueue, artemisPublishRaw, artemisQueueCounts, artemisQueueState, artemisReadyCount, artemisUrls, requireArtemis } from './artemis';
import { AMQP_URL, createVhost, deleteQueue, publishRaw, rabbitmqctl, readyCount, recordingLogger, requireBroker, startTcpProxy } from './support';

export type TransportName = 'rabbitmq-amqp' | 'artemis-amqp' | 'artemis-stomp';

/** A place on the broker that a test may disrupt: every connection through `url` can be killed. */
export interface Isolated {
  url: string;
  /** Ends every connection made through `url` (broker-side where the broker can, else the network). */
  kill(): Promise<void>;
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
  return { url: proxy.url, kill: async () => proxy.cut(), drop: () => proxy.close() };
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
  publishRaw: (queueName, body) => publishRaw(queueName, body),
  isolate: async () => {
    // A virtual host of its own, whose connections the broker itself closes.
    const vhost = await createVhost();
    return { url: vhost.url, kill: async () => void (await rabbitmqctl('close_all_connections', '-p', vhost.name, 'test')), drop: vhost.drop };
  },
};

const artemisAmqp: QueueTransport = {
  name: 'artemis-amqp',
  broker: 'artemis',
  protocol: 'amqp',
  honoursSelector: true,
  url: () => artemisUrls().amqp,
  require: requireArtemis,
  open: opener(() => artemisAmqp),
  deleteQueue: (queueName) => artemisDeleteQueue(queueName),
  readyCount: (queueName) => artemisReadyCount(queueName),
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
  require: requireArtemis,
  open: opener(() => artemisStomp),
  deleteQueue: (queueName) => artemisDeleteQueue(queueName),
  readyCount: (queueName) => artemisReadyCount(queueName),
  queueState: artemisQueueState,
  orphanedDeliveries: async (queueName) => (await artemisQueueCounts(queueName)).orphaned,
  publishRaw: artemisPublishRaw,
  isolate: () => proxied(artemisUrls().stomp),
};

export const TRANSPORTS: readonly QueueTransport[] = [rabbitmqAmqp, artemisAmqp, artemisStomp];

/** The transports to run: all, or those named in SHIPDECK_TEST_TRANSPORTS (comma-separated). */
export function selectedTransports(): QueueTransport[] {
  const wanted = process.env.SHIPDECK_TEST_TRANSPORTS?.split(',').map((name) => name.trim());
  if (!wanted) return [...TRANSPORTS];
  const unknown = wanted.filter((name) => !TRANSPORTS.some((transport) => transport.name === name));
  if (unknown.length > 0) throw new Error(`SHIPDECK_TEST_TRANSPORTS names unknown transports: ${unknown.join(', ')}`);
  return TRANSPORTS.filter((transport) => wanted.includes(transport.name));
}

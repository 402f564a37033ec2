import { ConfigError } from '@shipdeck/errors';
import { createAmqpTaskQueue } from './amqp';
import { LevelLogger } from '@shipdeck/logging';
import type { QueueMetrics } from '@shipdeck/metrics';
import { InProcessTaskQueue } from './in-process-queue';
import { TaskQueue } from './port';
import { createStompTaskQueue } from './stomp';

export interface OpenTaskQueueOptions {
  /** `task.queue.url`; null selects the in-process queue of the embedded default. */
  url: string | null;
  /** `task.queue.name` */
  name: string;
  /** `task.queue.dialect` (AMQP only: STOMP is spoken to Artemis). */
  dialect: 'auto' | 'artemis' | 'rabbitmq';
  logger: LevelLogger;
  /** Where broker reconnects and redelivered task messages are counted; none when absent. */
  metrics?: QueueMetrics;
  /** Backoff between reconnect attempts; adapter defaults when absent. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** The longest `publish()` waits for the broker's confirmation; adapter default when absent. */
  publishTimeoutMs?: number;
}

/**
 * The queue adapter `task.queue.url` asks for: in-process (none), AMQP 1.0 (`amqp://`, `amqps://`),
 * STOMP 1.2 on Artemis (`stomp://`, `stomp+ssl://`).
 */
export async function openTaskQueue(options: OpenTaskQueueOptions): Promise<TaskQueue> {
  const { url, reconnect, publishTimeoutMs, logger, metrics } = options;
  if (url === null) return new InProcessTaskQueue();
  const tuning = { metrics, ...(reconnect ? { reconnect } : {}), ...(publishTimeoutMs === undefined ? {} : { publishTimeoutMs }) };
  if (/^amqps?:\/\//.test(url)) {
    return createAmqpTaskQueue({ url, queueName: options.name, dialect: options.dialect, logger, ...tuning });
  }
  if (/^stomp(\+ssl)?:\/\//.test(url)) {
    if (options.dialect === 'rabbitmq') {
      throw new ConfigError('invalid configuration: task.queue.dialect rabbitmq needs an amqp:// URL; stomp:// is for ActiveMQ Artemis', [
        { field: 'task.queue.dialect', message: 'must be auto or artemis with a stomp:// URL' },
      ]);
    }
    return createStompTaskQueue({ url, queueName: options.name, logger, ...tuning });
  }
  throw new ConfigError(
    `invalid configuration: task.queue.url: ${url.split('://')[0]}:// is not supported; use amqp://, amqps:// (ActiveMQ Artemis, or RabbitMQ 3.10+ with the AMQP 1.0 plugin), stomp:// or stomp+ssl:// (ActiveMQ Artemis)`,
  );
}

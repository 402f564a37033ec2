import { ConfigError } from '@shipdeck/errors';
import { createAmqpTaskQueue } from './amqp';
import { LevelLogger } from '@shipdeck/logging';
import { InProcessTaskQueue } from './in-process-queue';
import { TaskQueue } from './port';

export interface OpenTaskQueueOptions {
  /** `task.queue.url`; null selects the in-process queue of the embedded default. */
  url: string | null;
  /** `task.queue.name` */
  name: string;
  /** `task.queue.dialect` */
  dialect: 'auto' | 'artemis' | 'rabbitmq';
  logger: LevelLogger;
}

/** The queue adapter `task.queue.url` asks for: in-process (none), AMQP 1.0 (`amqp://`, `amqps://`). */
export async function openTaskQueue(options: OpenTaskQueueOptions): Promise<TaskQueue> {
  const { url } = options;
  if (url === null) return new InProcessTaskQueue();
  if (/^amqps?:\/\//.test(url)) {
    return createAmqpTaskQueue({ url, queueName: options.name, dialect: options.dialect, logger: options.logger });
  }
  throw new ConfigError(
    `invalid configuration: task.queue.url: ${url.split('://')[0]}:// is not supported by this version; use an amqp:// URL (ActiveMQ Artemis or RabbitMQ 3.10+ with the AMQP 1.0 plugin)`,
  );
}

import { connect } from 'amqplib';
import { ConfigError, NotReadyError } from '@shipdeck/errors';
import { DialectContext } from './dialect';

/** The arguments Shipdeck's task queue has on RabbitMQ; a queue with other arguments is refused. */
export const RABBITMQ_QUEUE_ARGUMENTS = { 'x-queue-type': 'quorum' } as const;

/** AMQP 0-9-1 reply code for "exists with other properties". */
const PRECONDITION_FAILED = 406;

/**
 * Declares the task queue as a durable quorum queue over AMQP 0-9-1 (the only protocol that can
 * declare on RabbitMQ 3.x), then disconnects. Idempotent when the queue already exists with the
 * same arguments; a queue that exists with other arguments is a configuration error.
 */
export async function declareQuorumQueue(context: DialectContext): Promise<void> {
  const { url, endpoint, queueName, logger } = context;
  let connection;
  try {
    connection = await connect(url, { timeout: 10_000 });
  } catch (error) {
    throw new NotReadyError(
      `cannot declare queue "${queueName}": RabbitMQ at ${endpoint.redactedUrl} did not accept an AMQP 0-9-1 connection: ${String(error)}`,
    );
  }
  connection.on('error', (error: unknown) => logger.debug('AMQP 0-9-1 declaring connection error', { error: String(error) }));
  try {
    const channel = await connection.createChannel();
    channel.on('error', (error: unknown) => logger.debug('AMQP 0-9-1 declaring channel closed', { error: String(error) }));
    try {
      await channel.assertQueue(queueName, { durable: true, arguments: { ...RABBITMQ_QUEUE_ARGUMENTS } });
    } catch (error) {
      if ((error as { code?: unknown }).code === PRECONDITION_FAILED) {
        throw new ConfigError(
          `queue "${queueName}" already exists on RabbitMQ ${endpoint.redactedUrl} with other arguments ` +
            `(${(error as Error).message}); Shipdeck needs a durable quorum queue (x-queue-type: quorum): ` +
            'delete that queue, or choose another task.queue.name',
          [{ field: 'task.queue.name', message: 'names an existing queue that is not a durable quorum queue' }],
        );
      }
      // Anything else is the connection going away while declaring: worth another try.
      throw new NotReadyError(`cannot declare queue "${queueName}" on RabbitMQ ${endpoint.redactedUrl}: ${String(error)}`);
    }
    logger.debug('declared RabbitMQ quorum queue', { queue: queueName });
  } finally {
    await closeWithoutStackTrace(connection);
  }
}

/**
 * amqplib's close captures a stack trace and formats it at once (for an error message nobody
 * reads here); with source maps on, formatting the first stack that crosses the bundle parses
 * the bundle's source map, which a process then keeps (about 10 MB and 0.1 s). Closing with no
 * stack frames to capture leaves that to the first stack trace somebody reads. The close call
 * sends its frame synchronously, so the limit is back before anything else runs.
 */
export async function closeWithoutStackTrace(connection: { close(): Promise<void> }): Promise<void> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let closed: Promise<void>;
  try {
    closed = connection.close();
  } finally {
    Error.stackTraceLimit = limit;
  }
  await closed.catch(() => undefined);
}

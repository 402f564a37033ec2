import { ErrorCode, ShipdeckError } from '@shipdeck/errors';

/** Why a publish did not end with the broker accepting the message. */
export type PublishFailure = 'rejected' | 'released' | 'modified' | 'timeout' | 'closed';

/**
 * A `publish()` that did not end with the broker accepting the message. Retryable unless the
 * broker rejected it (a rejected message will be rejected again).
 */
export class TaskPublishError extends ShipdeckError {
  constructor(
    readonly failure: PublishFailure,
    readonly taskId: string,
    message: string,
  ) {
    const retryable = failure !== 'rejected';
    super(retryable ? ErrorCode.NOT_READY : ErrorCode.INTERNAL, message, [], retryable);
  }
}

/** A readable reason from whatever rhea reports (an AMQP error, an Error, a socket error). */
export function describeAmqpError(error: unknown): string {
  if (error === undefined || error === null) return 'no reason given';
  const amqp = error as { condition?: unknown; description?: unknown; message?: unknown; code?: unknown };
  if (typeof amqp.condition === 'string') {
    return typeof amqp.description === 'string' && amqp.description !== '' ? `${amqp.condition}: ${amqp.description}` : amqp.condition;
  }
  if (error instanceof Error) return typeof amqp.code === 'string' && !error.message.includes(amqp.code) ? `${amqp.code} ${error.message}` : error.message;
  return String(error);
}

import type { LevelLogger } from '@shipdeck/logging';
import { describeAmqpError } from './amqp/errors';
import { TaskMessage } from './message';
import { Delivery, DeliveryHandler } from './port';

/** How a consumer settles one delivery with its broker, and what it does when the handler is done. */
export interface DispatchOptions<F extends string> {
  consumerId: string;
  logger: LevelLogger;
  /** Settles the delivery with the broker; called at most once. */
  settle(how: 'accept' | 'handBack' | F): void;
  /** How a delivery the handler left unsettled is settled, and the word the log uses for it. */
  unsettled: { how: 'handBack' | F; logged: string };
  /** The handler's promise has settled: its slot is free. */
  ended(): void;
}

/**
 * Hands one delivery to the handler: `accept()` and `handBack()` settle it once (a second call
 * throws), a handler failure is logged, and a delivery the handler ended without settling is
 * settled as `unsettled` says. The slot stays taken until the handler's promise settles.
 */
export function dispatchDelivery<F extends string>(handler: DeliveryHandler, message: TaskMessage, options: DispatchOptions<F>): void {
  const { consumerId, logger } = options;
  let settled = false;
  const settle = (how: 'accept' | 'handBack') => {
    if (settled) throw new Error(`delivery of task ${message.taskId} was already settled`);
    settled = true;
    options.settle(how);
  };
  const handed: Delivery = { message, accept: async () => settle('accept'), handBack: async () => settle('handBack') };
  let result: Promise<void>;
  try {
    result = Promise.resolve(handler(handed));
  } catch (error) {
    result = Promise.reject(error);
  }
  result
    .catch((error: unknown) => logger.error('delivery handler failed', { consumer: consumerId, taskId: message.taskId, error: describeAmqpError(error) }))
    .finally(() => {
      if (!settled) {
        settled = true;
        logger.warn(`handler ended without settling its delivery; ${options.unsettled.logged}`, { consumer: consumerId, taskId: message.taskId });
        options.settle(options.unsettled.how);
      }
      options.ended();
    });
}

export { createAmqpTaskQueue, AmqpTaskQueue } from './amqp-task-queue';
export type { AmqpTaskQueueState } from './amqp-task-queue';
export type { AmqpConsumerState } from './amqp-consumer';
export type { AmqpTaskQueueOptions, AmqpDialectName } from './options';
export { TaskPublishError } from './errors';
export type { PublishFailure } from './errors';
export { RABBITMQ_QUEUE_ARGUMENTS } from './dialects/rabbitmq-queue';

export { createStompTaskQueue, StompTaskQueue } from './stomp-task-queue';
export type { StompTaskQueueState } from './stomp-task-queue';
export type { StompConsumerState } from './stomp-consumer';
export type { StompTaskQueueOptions } from './options';
export { parseStompUrl } from './options';

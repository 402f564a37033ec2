export * from './lib/message';
export * from './lib/port';
export * from './lib/signing';
export * from './lib/in-process-queue';
export * from './lib/amqp';
export * from './lib/stomp';
export * from './lib/open-queue';

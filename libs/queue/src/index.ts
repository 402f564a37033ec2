export * from './lib/message';
export * from './lib/port';
export * from './lib/in-process-queue';

export * from './lib/shutdown';
export * from './lib/listen';
export * from './lib/retry';

export * from './lib/shutdown';
export * from './lib/listen';
export * from './lib/retry';
export { backoffDelayMs } from './lib/backoff';
export type { BackoffOptions } from './lib/backoff';
export { KeyedLock } from './lib/keyed-lock';

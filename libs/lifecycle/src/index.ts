export { backoffDelayMs } from './lib/backoff';
export { listenHttp } from './lib/listen';
export { retryUntil } from './lib/retry';
export { Shutdown } from './lib/shutdown';

export { backoffDelayMs } from './lib/backoff';
export { listenHttp } from './lib/listen';
export type { ListeningServer, HttpsMaterial } from './lib/listen';
export { readPemFiles } from './lib/pem-files';
export type { PemFile } from './lib/pem-files';
export { retryUntil } from './lib/retry';
export { Shutdown } from './lib/shutdown';

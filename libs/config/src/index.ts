export * from './lib/keys';
export * from './lib/load-config';
export * from './lib/config-hash';
export type { DatabaseLocation } from './lib/parsers';
export { parseDuration } from './lib/duration';

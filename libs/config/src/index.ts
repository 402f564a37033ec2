export * from './lib/keys';
export * from './lib/load-config';
export * from './lib/config-hash';
export { DatabaseLocation } from './lib/parsers';

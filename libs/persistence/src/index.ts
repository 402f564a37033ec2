export * from './lib/stores';
export * from './lib/auth';
export { openStores } from './lib/open-stores';
export type { OpenStoresOptions } from './lib/open-stores';
export type { Clock } from './lib/row-mapping';

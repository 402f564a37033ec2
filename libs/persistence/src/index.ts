export * from './lib/stores';
export { openStores } from './lib/open-stores';
export type { OpenStoresOptions } from './lib/open-stores';
export type { Clock } from './lib/row-mapping';

export * from './lib/stores';
export * from './lib/advance-task';
export { openStores, OpenStoresOptions } from './lib/open-stores';
export { Clock } from './lib/typeorm-stores';

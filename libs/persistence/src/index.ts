export * from './lib/stores';
export * from './lib/auth';
export * from './lib/advance-task';
export { openStores } from './lib/open-stores';
export type { OpenStoresOptions } from './lib/open-stores';
export type { Clock } from './lib/typeorm-stores';

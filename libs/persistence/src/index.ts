export * from './lib/stores';
export { openStores } from './lib/open-stores';
export type { OpenStoresOptions } from './lib/open-stores';
export type { Clock } from './lib/row-mapping';
/** @deprecated The transition rules live in `@shipdeck/tasks`; import them from there. */
export { advanceTask, allows } from '@shipdeck/tasks';

export * from './lib/plugin';
export * from './lib/registry';
export * from './lib/loader';
export { parseDuration } from './lib/properties';
export * from './lib/shell';
export * from './lib/placeholders';
export { BUILTIN_PLUGINS } from './lib/builtin';

export * from './lib/model';
export * from './lib/manifest';
export * from './lib/names';

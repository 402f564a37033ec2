export * from './lib/worker-runtime';
export * from './lib/worker-identity';
export * from './lib/worker-flags';
export * from './lib/master-check';
export * from './lib/work-dir-lock';

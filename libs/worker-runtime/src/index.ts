export * from './lib/worker-runtime';
export * from './lib/worker-identity';

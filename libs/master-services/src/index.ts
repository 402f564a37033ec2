export * from './lib/service';
export * from './lib/shipdeck-service';
export * from './lib/worker-link';
export * from './lib/task-publisher';
export * from './lib/reconciler';
export * from './lib/workers';
export * from './lib/cluster-workers';
export * from './lib/in-process-workers';

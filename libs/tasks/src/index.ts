export * from './lib/states';
export * from './lib/state-machine';
export * from './lib/plan';
export * from './lib/plan-ops';
export * from './lib/task';
export * from './lib/engine';
export * from './lib/step-executor';
export * from './lib/task-view';

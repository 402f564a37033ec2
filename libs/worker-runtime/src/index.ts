export { WorkerRuntime } from './lib/worker-runtime';
export { compileWorkerRuntimeOptions } from './lib/worker-runtime-options';
export type {
  CompiledWorkerRuntimeOptions,
  RuntimeTaskStore,
  WorkerRuntimeOptions,
  WorkerRuntimeState,
} from './lib/worker-runtime-options';
export type { HeldTask } from './lib/held-tasks';
export type { RecoveryReport } from './lib/task-recovery';
export { systemClock } from './lib/clock';
export type { Cancel, Clock } from './lib/clock';
export { loadOrCreateWorkerId } from './lib/worker-identity';
export { ConfigCompatibility, classifyForeignHash, isOddOneOut } from './lib/config-compatibility';
export type { ConfigCompatibilityOptions, ForeignMessageKind, LiveMaster } from './lib/config-compatibility';
export { lockWorkDir } from './lib/work-dir-lock';
export { RECOVERY_FORMAT, RECOVERY_VERSION, parseRecoveryFile } from './lib/recovery-files';
export type { RecoveryFile } from './lib/recovery-files';
export { INTERRUPTED_BETWEEN_STEPS, INTERRUPTED_STEP } from './lib/interruption';

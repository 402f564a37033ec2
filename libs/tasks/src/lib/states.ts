/** Every state a task can be in (spec §2). `UNKNOWN` is never stored: it is shown while the owner is gone. */
export const TASK_STATES = [
  'PENDING',
  'SCHEDULED',
  'QUEUED',
  'EXECUTING',
  'EXECUTED',
  'STOPPING',
  'STOPPED',
  'FAILING',
  'FAILED',
  'ABORTING',
  'ABORTED',
  'CANCELLING',
  'CANCELLED',
  'DONE',
] as const;
export type TaskState = (typeof TASK_STATES)[number];
/** A state as shown to users: the stored one, or UNKNOWN while the owning worker is disconnected. */
export type ShownTaskState = TaskState | 'UNKNOWN';

export const STEP_STATES = ['PENDING', 'EXECUTING', 'PAUSED', 'FAILED', 'DONE', 'SKIPPED'] as const;
export type StepState = (typeof STEP_STATES)[number];

export const TASK_TYPES = ['DEPLOYMENT', 'CONTROL'] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** States in which a worker holds the task (it owns it and may be running steps). */
export const ACTIVE_STATES: readonly TaskState[] = ['EXECUTING', 'STOPPING', 'FAILING', 'ABORTING'];
/** States a task never leaves. */
export const FINAL_STATES: readonly TaskState[] = ['CANCELLED', 'DONE'];

export function isActive(state: TaskState): boolean {
  return ACTIVE_STATES.includes(state);
}

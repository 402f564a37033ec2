import { IllegalTransitionError } from '@shipdeck/errors';
import { TaskState } from './states';

/** Operations a user asks for (REST, CLI). */
export const TASK_OPERATIONS = ['start', 'schedule', 'stop', 'abort', 'cancel', 'archive'] as const;
export type TaskOperation = (typeof TASK_OPERATIONS)[number];

/** Events the system itself raises while a task moves on. */
export const TASK_EVENTS = [
  /** The scheduled time has come. */
  'due',
  /** A worker claimed the queued task. */
  'claimed',
  /** A step failed while others may still run. */
  'stepFailed',
  /** Every step is DONE or SKIPPED. */
  'completed',
  /** Execution halted at a step boundary: a stop request or a pause-before. */
  'halted',
  /** Execution ended with a failed step. */
  'failed',
  /** The running steps were killed after an abort request. */
  'aborted',
  /** Cancellation finished its clean-up. */
  'cancelled',
  /** The worker holding the task died or restarted while it was active. */
  'interrupted',
] as const;
export type TaskEvent = (typeof TASK_EVENTS)[number];
export type TaskAction = TaskOperation | TaskEvent;

const TABLE: Record<TaskAction, Partial<Record<TaskState, TaskState>>> = {
  start: { PENDING: 'QUEUED', STOPPED: 'QUEUED', FAILED: 'QUEUED', ABORTED: 'QUEUED' },
  schedule: { PENDING: 'SCHEDULED' },
  stop: { EXECUTING: 'STOPPING' },
  abort: { EXECUTING: 'ABORTING', STOPPING: 'ABORTING' },
  cancel: {
    PENDING: 'CANCELLING',
    SCHEDULED: 'CANCELLING',
    QUEUED: 'CANCELLING',
    STOPPED: 'CANCELLING',
    FAILED: 'CANCELLING',
    ABORTED: 'CANCELLING',
  },
  archive: { EXECUTED: 'DONE' },
  due: { SCHEDULED: 'QUEUED' },
  claimed: { QUEUED: 'EXECUTING' },
  stepFailed: { EXECUTING: 'FAILING', STOPPING: 'FAILING', FAILING: 'FAILING' },
  // A stop that arrives after the last step finished changes nothing: the work is done.
  completed: { EXECUTING: 'EXECUTED', STOPPING: 'EXECUTED' },
  halted: { EXECUTING: 'STOPPED', STOPPING: 'STOPPED' },
  failed: { EXECUTING: 'FAILED', STOPPING: 'FAILED', FAILING: 'FAILED' },
  aborted: { ABORTING: 'ABORTED' },
  cancelled: { CANCELLING: 'CANCELLED' },
  interrupted: { EXECUTING: 'FAILED', STOPPING: 'FAILED', FAILING: 'FAILED', ABORTING: 'ABORTED' },
};

/** The state `action` leads to from `state`, or undefined when the action is not allowed there. */
export function nextState(state: TaskState, action: TaskAction): TaskState | undefined {
  return TABLE[action][state];
}

/** Like {@link nextState}, but an illegal action throws {@link IllegalTransitionError} (HTTP 409). */
export function transition(state: TaskState, action: TaskAction): TaskState {
  const next = nextState(state, action);
  if (next === undefined) throw new IllegalTransitionError(action, state);
  return next;
}

/** The states from which `action` is allowed. */
export function statesAllowing(action: TaskAction): TaskState[] {
  return Object.keys(TABLE[action]) as TaskState[];
}

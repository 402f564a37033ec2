import { TaskPatch } from './advance-task';
import { clonePlan, flattenSteps } from './plan-ops';
import { transition } from './state-machine';
import { TaskRecord } from './task';

/**
 * What a start sets besides the state (PENDING, STOPPED, FAILED, ABORTED → QUEUED): a new
 * attempt, queued at `queuedAt`, that continues from the failed step (failed steps run again,
 * done ones do not).
 */
export function startPatch(current: TaskRecord, queuedAt: string): TaskPatch {
  const plan = clonePlan(current.plan);
  for (const step of flattenSteps(plan)) if (step.state === 'FAILED') step.state = 'PENDING';
  return { plan, attempt: current.attempt + 1, failure: null, completedAt: null, queuedAt };
}

/**
 * A task not stored yet, as a start would leave it (`start: true` on creation): the state comes
 * from the state machine, the other fields from {@link startPatch}, so that storing it is the
 * creation and the start in one statement.
 */
export function started(task: TaskRecord, queuedAt: string): TaskRecord {
  return { ...task, ...startPatch(task, queuedAt), state: transition(task.state, 'start') };
}

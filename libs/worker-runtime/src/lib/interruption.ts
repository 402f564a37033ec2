import { TaskAction, TaskRecord, flattenSteps, Plan, clonePlan } from '@shipdeck/tasks';

/** A task's failure when its worker died between two steps (no step was executing). */
export const INTERRUPTED_BETWEEN_STEPS = 'the worker stopped between two steps; start the task again to continue';

/** The failure a step gets when its worker died or lost the task while it was executing. */
export const INTERRUPTED_STEP = 'the worker stopped while this step was executing; it may have run partly';

/**
 * The plan of a task whose worker died (or lost it) while it was active: every step that was
 * executing becomes FAILED, since it may have run partly. Answers a new plan.
 */
export function interruptPlan(plan: Plan): Plan {
  const recovered = clonePlan(plan);
  for (const step of flattenSteps(recovered)) {
    if (step.state === 'EXECUTING') {
      step.state = 'FAILED';
      step.failure = INTERRUPTED_STEP;
    }
  }
  return recovered;
}

/**
 * How an interrupted task ends: EXECUTED when every step was already done, ABORTED when an abort
 * was under way, otherwise FAILED (waiting for the user to retry, skip or cancel).
 */
export function interruptionAction(task: TaskRecord, plan: Plan): TaskAction {
  if (task.state === 'ABORTING') return 'aborted';
  const steps = flattenSteps(plan);
  if (steps.every((s) => s.state === 'DONE' || s.state === 'SKIPPED') && task.state !== 'FAILING') return 'completed';
  return 'interrupted';
}

/** A task's one-line failure from its first FAILED step, or null when no step failed. */
export function stepFailure(plan: Plan): string | null {
  const failed = flattenSteps(plan).find((s) => s.state === 'FAILED');
  return failed ? `step ${failed.path} failed: ${failed.failure ?? 'unknown reason'}` : null;
}

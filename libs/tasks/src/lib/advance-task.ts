import { TaskAction, nextState, transition } from './state-machine';
import { TaskState } from './states';
import { TaskRecord } from './task';

/** Fields a state change may set along with the state. */
export type TaskPatch = Partial<Omit<TaskRecord, 'id' | 'type' | 'createdAt'>>;

/** The two operations {@link advanceTask} needs of a task store. */
export interface TaskStateStore {
  get(id: string): Promise<TaskRecord | null>;
  /**
   * Applies `patch` only if the task is still in `expected` state (and, with `owner`, still owned
   * by that worker); answers the updated task, or null when someone else changed it first.
   */
  compareAndSet(id: string, expected: TaskState, patch: TaskPatch, owner?: string): Promise<TaskRecord | null>;
}

/** How many times a compare-and-set is retried when another process changed the task in between. */
const MAX_ATTEMPTS = 20;

/**
 * Moves a task on by `action`, using the pure state machine and a compare-and-set on the stored
 * state, so that a master and a worker changing the same task at once never overwrite each other.
 * `decide` may pick the action from the current state (e.g. a finished run of an ABORTING task is
 * `aborted`). With `owner`, a task no longer owned by that worker is left alone (answers null).
 * Throws IllegalTransitionError when the action is not allowed in the current state.
 * `known`, the task as the caller last saw it, saves the first read: the compare-and-set on its
 * state is tried first, and a stale one (the state or owner changed) only costs that attempt.
 */
export async function advanceTask(
  tasks: TaskStateStore,
  id: string,
  decide: TaskAction | ((current: TaskRecord) => TaskAction),
  patch: (current: TaskRecord, next: TaskState) => TaskPatch = () => ({}),
  owner?: string,
  known?: TaskRecord,
): Promise<TaskRecord | null> {
  let guess = known;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const guessed = guess !== undefined;
    const current = guess ?? (await tasks.get(id));
    guess = undefined;
    if (!current || (owner !== undefined && current.workerId !== owner)) {
      if (guessed) continue;
      return null;
    }
    const action = typeof decide === 'function' ? decide(current) : decide;
    if (guessed && !allows(current.state, action)) continue;
    const next = transition(current.state, action);
    const updated = await tasks.compareAndSet(id, current.state, { ...patch(current, next), state: next }, owner);
    if (updated) return updated;
  }
  throw new Error(`task ${id} kept changing under ${MAX_ATTEMPTS} attempts to update it`);
}

/** Whether `action` is allowed from `state` (no exception). */
export function allows(state: TaskState, action: TaskAction): boolean {
  return nextState(state, action) !== undefined;
}

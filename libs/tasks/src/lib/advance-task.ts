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
 */
export async function advanceTask(
  tasks: TaskStateStore,
  id: string,
  decide: TaskAction | ((current: TaskRecord) => TaskAction),
  patch: (current: TaskRecord, next: TaskState) => TaskPatch = () => ({}),
  owner?: string,
): Promise<TaskRecord | null> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await tasks.get(id);
    if (!current || (owner !== undefined && current.workerId !== owner)) return null;
    const action = typeof decide === 'function' ? decide(current) : decide;
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

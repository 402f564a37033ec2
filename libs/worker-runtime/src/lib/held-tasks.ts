import { TaskRecord } from '@shipdeck/tasks';
import type { TaskRun } from './task-run';

/** A task this worker holds, as it reports it to masters. */
export interface HeldTask {
  id: string;
  type: TaskRecord['type'];
  state: TaskRecord['state'];
}

/**
 * The tasks a worker holds: the runs executing now, the tasks that finished executing here and
 * are not archived or cancelled yet (their recovery files remain), and which of them are ghosts
 * (removed from the monitor while held).
 */
export class HeldTasks {
  readonly running = new Map<string, TaskRun>();
  readonly finished = new Map<string, TaskRecord>();
  readonly ghosts = new Set<string>();

  /** The task as this worker knows it, running or finished. */
  recordOf(id: string): TaskRecord | undefined {
    return this.running.get(id)?.task ?? this.finished.get(id);
  }

  /** Every held task that is not a ghost. */
  view(): HeldTask[] {
    const all = [...this.finished.values(), ...[...this.running.values()].map((run) => run.task)];
    return all.filter((t) => !this.ghosts.has(t.id)).map((t) => ({ id: t.id, type: t.type, state: t.state }));
  }
}

import { ErrorCode, IllegalTransitionError, NotFoundError } from '@shipdeck/errors';
import { TaskStore } from '@shipdeck/persistence';
import { ShownTaskState, TaskRecord, TaskView, isActive, renderTask } from '@shipdeck/tasks';
import { WorkerLink } from './worker-link';

/**
 * Loads tasks and renders them as clients see them: a task whose owner is gone shows UNKNOWN
 * (spec §4), which only this master's view of its workers can tell.
 */
export class TaskViews {
  constructor(
    private readonly tasks: Pick<TaskStore, 'get'>,
    private readonly workers: Pick<WorkerLink, 'isDisconnected'>,
  ) {}

  /** The stored task; TASK_NOT_FOUND when there is none. */
  async load(id: string): Promise<TaskRecord> {
    const task = await this.tasks.get(id);
    if (!task) throw taskNotFound(id);
    return task;
  }

  /** The task as clients see it. */
  view(task: TaskRecord): TaskView {
    return renderTask(task, this.shownState(task));
  }

  /** The stored state, or UNKNOWN for an active task whose owner is gone. */
  shownState(task: TaskRecord): ShownTaskState {
    const owner = task.workerId;
    if (owner && isActive(task.state) && this.workers.isDisconnected(owner)) return 'UNKNOWN';
    return task.state;
  }

  /** A task whose worker is gone cannot be managed until the worker is back (spec §4). */
  refuseWhileUnknown(task: TaskRecord, operation: string): void {
    if (this.shownState(task) === 'UNKNOWN') throw new IllegalTransitionError(operation, 'UNKNOWN');
  }
}

/** The error of a task id that names no current task. */
export function taskNotFound(id: string): NotFoundError {
  return new NotFoundError(ErrorCode.TASK_NOT_FOUND, `task ${id} does not exist`);
}

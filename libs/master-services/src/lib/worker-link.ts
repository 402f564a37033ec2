import { TaskRecord } from '@shipdeck/tasks';

/**
 * How a master reaches the worker that owns a task. The in-process worker is called directly;
 * external workers are reached over the command channel.
 */
export interface WorkerLink {
  /** Asks the owner to halt after its running step(s). Resolves once the request was delivered. */
  stop(task: TaskRecord): Promise<void>;
  /** Asks the owner to kill its running step(s) now. */
  abort(task: TaskRecord): Promise<void>;
  /** Whether the owner of a task is gone (its tasks are then shown UNKNOWN). */
  isDisconnected(workerId: string): boolean;
}

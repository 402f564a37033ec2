import { ConflictError, ErrorCode, NotFoundError } from '@shipdeck/errors';
import { TaskRecord } from '@shipdeck/tasks';
import { WorkerLink } from './worker-link';

/** A worker's state as this master sees it (spec §4). */
export type WorkerState = 'CONNECTED' | 'INCOMPATIBLE' | 'DRAINING' | 'DISCONNECTED';

/** A worker as `GET /api/v1/workers` answers it. */
export interface WorkerView {
  id: string;
  name: string;
  address: string;
  state: WorkerState;
  deploymentTasks: number;
  controlTasks: number;
  configHash: string;
  capacity: number;
  lastSeen: string;
  /**
   * Present (true) only for a DISCONNECTED worker that was draining when it left: it finished its
   * tasks and exited as told, rather than vanished. It can be removed, and is pruned after
   * `worker.pruneAfter`. Absent otherwise, so that the usual answer keeps its shape.
   */
  drained?: true;
}

/** The answer of `POST /workers/restore-ghost-tasks`. */
export interface GhostTaskRestore {
  /** Every task id a worker registered again. */
  tasks: string[];
  workers: { id: string; ok: boolean; message: string; tasks: string[] }[];
}

/**
 * The workers a master knows and how it reaches them: the in-process worker of the embedded
 * default, or the external workers of a cluster over the command channel.
 */
export interface WorkerPool extends WorkerLink {
  list(tasks: readonly TaskRecord[]): Promise<WorkerView[]>;
  /** Tells a worker to drain; answers the worker's own words. */
  drain(id: string): Promise<{ message: string }>;
  /** Forgets a DISCONNECTED (drained or not) worker; 409 in any other state. */
  forget(id: string): Promise<void>;
  restoreGhostTasks(): Promise<GhostTaskRestore>;
}

/** Counts current tasks per owner and type. */
export function countTasks(tasks: readonly TaskRecord[], workerId: string): { deploymentTasks: number; controlTasks: number } {
  let deploymentTasks = 0;
  let controlTasks = 0;
  for (const task of tasks) {
    if (task.workerId !== workerId) continue;
    if (task.type === 'DEPLOYMENT') deploymentTasks++;
    else controlTasks++;
  }
  return { deploymentTasks, controlTasks };
}

export function workerNotFound(id: string): NotFoundError {
  return new NotFoundError(ErrorCode.WORKER_NOT_FOUND, `worker ${id} is not known to this master`);
}

export function workerNotConnected(id: string, state: WorkerState): ConflictError {
  return new ConflictError(`worker ${id} is ${state}: it cannot be reached from this master now`);
}

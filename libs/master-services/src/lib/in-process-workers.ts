import { ConflictError } from '@shipdeck/errors';
import { TaskRecord } from '@shipdeck/tasks';
import { GhostTaskRestore, WorkerPool, WorkerView, countTasks, workerNotFound } from './workers';

/** What the master needs of its in-process worker (the worker runtime fits). */
export interface InProcessWorker {
  readonly workerId: string;
  stop(taskId: string): boolean;
  abort(taskId: string): boolean;
}

export interface InProcessWorkersOptions {
  worker: InProcessWorker;
  configHash: string;
  capacity: number;
}

/** The embedded default's only worker, reached by direct calls; it is never disconnected. */
export class InProcessWorkers implements WorkerPool {
  constructor(private readonly options: InProcessWorkersOptions) {}

  async list(tasks: readonly TaskRecord[]): Promise<WorkerView[]> {
    const id = this.options.worker.workerId;
    return [
      {
        id,
        name: 'in-process',
        address: 'in-process',
        state: 'CONNECTED',
        ...countTasks(tasks, id),
        configHash: this.options.configHash,
        capacity: this.options.capacity,
        lastSeen: new Date().toISOString(),
      },
    ];
  }

  async drain(id: string): Promise<{ message: string }> {
    this.known(id);
    throw new ConflictError('the in-process worker is part of the master and cannot be drained; stop the master instead');
  }

  async forget(id: string): Promise<void> {
    this.known(id);
    throw new ConflictError('the in-process worker is CONNECTED; only a DISCONNECTED worker can be forgotten');
  }

  async restoreGhostTasks(): Promise<GhostTaskRestore> {
    return { tasks: [], workers: [{ id: this.options.worker.workerId, ok: true, message: 'no ghost tasks', tasks: [] }] };
  }

  async stop(task: TaskRecord): Promise<void> {
    this.options.worker.stop(task.id);
  }

  async abort(task: TaskRecord): Promise<void> {
    this.options.worker.abort(task.id);
  }

  isDisconnected(): boolean {
    return false;
  }

  private known(id: string): void {
    if (id !== this.options.worker.workerId) throw workerNotFound(id);
  }
}

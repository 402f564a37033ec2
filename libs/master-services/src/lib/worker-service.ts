import { TaskStore } from '@shipdeck/persistence';
import { GhostTaskRestore, WorkerPool, WorkerView } from './workers';

/** Workers as this master sees them (spec §4), and what a client may ask of them. */
export class WorkerService {
  constructor(
    private readonly workers: WorkerPool,
    private readonly tasks: Pick<TaskStore, 'list'>,
  ) {}

  /** Every known worker with its state and task counts. */
  async listWorkers(): Promise<WorkerView[]> {
    return this.workers.list(await this.tasks.list());
  }

  /** Tells a worker to drain: it takes no new tasks, finishes its running ones, then exits. */
  drainWorker(id: string): Promise<{ message: string }> {
    return this.workers.drain(id);
  }

  /** Forgets a DISCONNECTED worker (drained or not); 409 in any other state. */
  forgetWorker(id: string): Promise<void> {
    return this.workers.forget(id);
  }

  /** Makes every worker register its ghost tasks again. */
  restoreGhostTasks(): Promise<GhostTaskRestore> {
    return this.workers.restoreGhostTasks();
  }
}

import { IllegalTransitionError, ShipdeckError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { Clock, StepLogStore, TaskStore } from '@shipdeck/persistence';
import {
  advanceTask,
  Plan,
  TaskOperation,
  TaskView,
  clonePlan,
  findStep,
  isActive,
  pauseBeforeStep,
  renderTask,
  skipStep,
  startPatch,
  transition,
  unskipStep,
} from '@shipdeck/tasks';
import { ArchiveListFilter, TaskListFilter } from './requests';
import { TaskAnnouncer } from './task-announcer';
import { TaskViews, taskNotFound } from './task-views';
import { WorkerLink } from './worker-link';

/** Task states in which the plan may be changed (the task is not executing and not finished). */
const PLAN_EDITABLE = new Set(['PENDING', 'SCHEDULED', 'QUEUED', 'STOPPED', 'FAILED', 'ABORTED']);

/** What {@link TaskOperationsService} needs. */
export interface TaskOperationsServiceOptions {
  tasks: TaskStore;
  logs: Pick<StepLogStore, 'read'>;
  views: TaskViews;
  /** Publishes started tasks to the queue. */
  announcer: Pick<TaskAnnouncer, 'announceForRequest'>;
  /** Delivers stop and abort to the worker that owns a task. */
  workers: WorkerLink;
  logger: Logger;
  now: Clock;
}

/**
 * Tasks once created (spec §6): listing, the operations of the task state machine (start,
 * schedule, stop, abort, cancel, archive; 409 ILLEGAL_TRANSITION when the state does not allow
 * one), plan changes between runs, step logs, removal of UNKNOWN tasks and the archive.
 */
export class TaskOperationsService {
  constructor(private readonly options: TaskOperationsServiceOptions) {}

  private get tasks(): TaskStore {
    return this.options.tasks;
  }

  private get views(): TaskViews {
    return this.options.views;
  }

  /** Current tasks, oldest first; `state: UNKNOWN` picks the tasks of gone workers. */
  async listTasks(filter: TaskListFilter): Promise<TaskView[]> {
    const tasks = await this.tasks.list({
      state: filter.state === 'UNKNOWN' ? undefined : filter.state,
      type: filter.type,
      workerId: filter.worker,
    });
    const views = tasks.map((t) => this.views.view(t));
    return filter.state ? views.filter((v) => v.state === filter.state) : views;
  }

  /** One current or archived task as clients see it; TASK_NOT_FOUND when there is none. */
  async getTask(id: string): Promise<TaskView> {
    return this.views.view(await this.views.load(id));
  }

  /**
   * The environment a task deploys to (for access checks): null for a control task, and for an
   * unknown task (whose route then answers TASK_NOT_FOUND).
   */
  async environmentOf(id: string): Promise<string | null> {
    const task = await this.tasks.get(id);
    return task?.deployment?.environment ?? null;
  }

  /** The log of one step; STEP_NOT_FOUND when the plan has no such step. */
  async readStepLog(id: string, path: string): Promise<string> {
    const task = await this.views.load(id);
    findStep(task.plan, path);
    return this.options.logs.read(id, path);
  }

  /** start, stop, abort, cancel, archive; `schedule` needs `at`. 409 ILLEGAL_TRANSITION when not allowed. */
  async operate(id: string, operation: TaskOperation, options: { at?: Date } = {}): Promise<TaskView> {
    this.views.refuseWhileUnknown(await this.views.load(id), operation);
    switch (operation) {
      case 'start':
        return this.start(id);
      case 'schedule':
        return this.schedule(id, options.at ?? this.options.now());
      case 'stop':
      case 'abort':
        return this.interrupt(id, operation);
      case 'cancel':
        return this.cancel(id);
      case 'archive':
        return this.archive(id);
    }
  }

  /** Marks a step SKIPPED while the task is not executing. */
  skipStep(id: string, path: string): Promise<TaskView> {
    return this.editPlan(id, 'skip', (plan) => skipStep(plan, path));
  }

  /** Takes a skip back while the task is not executing. */
  unskipStep(id: string, path: string): Promise<TaskView> {
    return this.editPlan(id, 'unskip', (plan) => unskipStep(plan, path));
  }

  /** Makes the task halt (STOPPED) before a step. */
  pauseBefore(id: string, path: string): Promise<TaskView> {
    return this.editPlan(id, 'pause before a step of', (plan) => pauseBeforeStep(plan, path));
  }

  /** Removes a task shown UNKNOWN from the monitor; 409 in any other state. */
  async removeTask(id: string): Promise<void> {
    const task = await this.views.load(id);
    const shown = this.views.shownState(task);
    if (shown !== 'UNKNOWN') throw new IllegalTransitionError('remove', shown);
    await this.tasks.remove(id);
    this.options.logger.warn('UNKNOWN task removed from the monitor; if its worker comes back it is a ghost task there', {
      taskId: id,
      worker: task.workerId,
    });
  }

  /**
   * Asks every EXECUTING task to stop after its running step(s) (a master shutting down gives
   * them a grace period): each goes STOPPING, then STOPPED once its steps are done. Answers the
   * tasks asked. A task that changed state meanwhile is left alone.
   */
  async stopExecuting(): Promise<TaskView[]> {
    const stopping: TaskView[] = [];
    for (const task of await this.tasks.list({ state: 'EXECUTING' })) {
      try {
        stopping.push(await this.interrupt(task.id, 'stop'));
      } catch (error) {
        if (!(error instanceof ShipdeckError)) throw error;
        this.options.logger.debug('task not stopped: it left EXECUTING meanwhile', { taskId: task.id, error: error.message });
      }
    }
    return stopping;
  }

  /** Whether any of these tasks is still in an active state (a worker runs its steps). */
  async anyActive(ids: readonly string[]): Promise<boolean> {
    for (const id of ids) {
      const task = await this.tasks.get(id);
      if (task && isActive(task.state)) return true;
    }
    return false;
  }

  /** DONE and CANCELLED tasks, newest first. */
  async listArchive(filter: ArchiveListFilter): Promise<TaskView[]> {
    return (await this.tasks.listArchived(filter)).map((t) => renderTask(t));
  }

  private async start(id: string): Promise<TaskView> {
    const queued = await advanceTask(this.tasks, id, 'start', (current) => startPatch(current, this.options.now().toISOString()));
    if (!queued) throw taskNotFound(id);
    this.options.logger.info('task queued', { taskId: id, attempt: queued.attempt });
    await this.options.announcer.announceForRequest(queued);
    return this.views.view(queued);
  }

  private async schedule(id: string, at: Date): Promise<TaskView> {
    const scheduled = await advanceTask(this.tasks, id, 'schedule', () => ({ scheduledAt: at.toISOString() }));
    if (!scheduled) throw taskNotFound(id);
    this.options.logger.info('task scheduled', { taskId: id, at: at.toISOString() });
    return this.views.view(scheduled);
  }

  private async interrupt(id: string, operation: 'stop' | 'abort'): Promise<TaskView> {
    const updated = await advanceTask(this.tasks, id, operation);
    if (!updated) throw taskNotFound(id);
    this.options.logger.info(`task ${operation} requested`, { taskId: id, worker: updated.workerId });
    await this.options.workers[operation](updated);
    return this.views.view((await this.tasks.get(id)) ?? updated);
  }

  private async cancel(id: string): Promise<TaskView> {
    await advanceTask(this.tasks, id, 'cancel');
    // Nothing runs for a task that can be cancelled, so cancellation has no clean-up to wait for.
    const cancelled = await advanceTask(this.tasks, id, 'cancelled', () => ({
      completedAt: this.options.now().toISOString(),
    }));
    if (!cancelled) throw taskNotFound(id);
    this.options.logger.info('task cancelled', { taskId: id });
    return this.views.view(cancelled);
  }

  /** EXECUTED → DONE, recording what the deployment changed in the same transaction. */
  private async archive(id: string): Promise<TaskView> {
    const task = await this.views.load(id);
    transition(task.state, 'archive');
    const deployment = task.deployment;
    const change = !deployment
      ? {}
      : deployment.kind === 'UNDEPLOY'
        ? { undeploy: { environment: deployment.environment, application: deployment.application } }
        : {
            deployed: {
              environment: deployment.environment,
              application: deployment.application,
              version: deployment.version ?? '',
              deployeds: deployment.deployeds,
            },
          };
    const archived = await this.tasks.archive(id, change, this.options.now());
    if (!archived) throw new IllegalTransitionError('archive', (await this.views.load(id)).state);
    this.options.logger.info('task archived', { taskId: id });
    return this.views.view(archived);
  }

  private async editPlan(id: string, what: string, edit: (plan: Plan) => void): Promise<TaskView> {
    for (;;) {
      const task = await this.views.load(id);
      this.views.refuseWhileUnknown(task, what);
      if (!PLAN_EDITABLE.has(task.state)) throw new IllegalTransitionError(what, task.state);
      const plan = clonePlan(task.plan);
      edit(plan);
      // Compare-and-set on the state: a worker claiming the task meanwhile makes this fail and retry.
      const updated = await this.tasks.compareAndSet(id, task.state, { state: task.state, plan });
      if (updated) return this.views.view(updated);
    }
  }
}

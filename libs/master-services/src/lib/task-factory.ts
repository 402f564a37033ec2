import { randomUUID } from 'node:crypto';
import { ConflictError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { PluginRegistry } from '@shipdeck/plugins';
import { AuthNewAuditEntry, Clock, TaskStore } from '@shipdeck/persistence';
import { Plan, TaskRecord, TaskView, started } from '@shipdeck/tasks';
import { type CatalogService, taskLabel } from './catalog-service';
import { TaskCreationOptions } from './requests';
import { TaskAnnouncer } from './task-announcer';
import { TaskViews } from './task-views';

/** What a new task says besides its plan: the deployment or control it performs. */
export type TaskPurpose = Pick<TaskRecord, 'type' | 'description'> & Partial<Pick<TaskRecord, 'deployment' | 'control'>>;

/** What the services that plan and create tasks (deployments, control tasks) need. */
export interface TaskPlanningOptions {
  /** Where packages, environments and hosts are looked up. */
  catalog: CatalogService;
  /** Stores the new tasks. */
  tasks: TaskFactory;
  /** The deployable and host types the planner asks for steps and controls. */
  registry: PluginRegistry;
}

/**
 * Makes new tasks, PENDING or (with `start`) QUEUED, for the services that create deployments
 * and control tasks.
 */
export class TaskFactory {
  constructor(
    private readonly tasks: Pick<TaskStore, 'insert' | 'insertExclusive'>,
    private readonly views: TaskViews,
    /** Publishes the tasks created started. */
    private readonly announcer: Pick<TaskAnnouncer, 'announceForRequest'>,
    private readonly logger: Logger,
    private readonly now: Clock,
  ) {}

  /** A PENDING task that is not stored (a preview renders one). */
  draft(purpose: TaskPurpose, plan: Plan): TaskRecord {
    return {
      id: randomUUID(),
      deployment: null,
      control: null,
      ...purpose,
      state: 'PENDING',
      plan,
      workerId: null,
      leaseUntil: null,
      attempt: 0,
      scheduledAt: null,
      createdAt: this.now().toISOString(),
      queuedAt: null,
      claimedAt: null,
      startedAt: null,
      completedAt: null,
      failure: null,
    };
  }

  /**
   * Stores a new task and answers its view: PENDING, or with `start` QUEUED as
   * `POST /tasks/{id}/start` would make it, stored in that state by the one INSERT and then
   * published (a failed publish is left to the reconciler, as for a start). The `audit` entry, if
   * any, is stored with the task.
   */
  async create(purpose: TaskPurpose, plan: Plan, options: TaskCreationOptions = {}): Promise<TaskView> {
    const task = this.prepare(this.draft(purpose, plan), options);
    await this.tasks.insert(task, auditOf(task, options));
    return this.stored(task);
  }

  /**
   * Stores a new deployment or undeployment task, as {@link create} does, unless another one of
   * the same application and environment is unfinished (not DONE or CANCELLED; a PENDING one
   * counts): then a CONFLICT (409) naming that task, and nothing is stored.
   */
  async createDeployment(
    purpose: TaskPurpose & { deployment: NonNullable<TaskRecord['deployment']> },
    plan: Plan,
    options: TaskCreationOptions = {},
  ): Promise<TaskView> {
    const task = this.prepare({ ...this.draft(purpose, plan), deployment: purpose.deployment }, options);
    const blocking = await this.tasks.insertExclusive(task, auditOf(task, options));
    if (blocking) throw unfinishedDeployment(blocking);
    return this.stored(task);
  }

  private prepare<T extends TaskRecord>(draft: T, options: TaskCreationOptions): T {
    return options.start === true ? { ...draft, ...started(draft, draft.createdAt) } : draft;
  }

  /** After the commit: one info line per task, the message of a started one, the view. */
  private async stored(task: TaskRecord): Promise<TaskView> {
    if (task.state === 'PENDING') {
      this.logger.info('task created', { taskId: task.id, description: task.description });
    } else {
      this.logger.info('task created and queued', { taskId: task.id, description: task.description });
      await this.announcer.announceForRequest(task);
    }
    return this.views.view(task);
  }
}

/** The creation's audit entry, if the caller gave one, naming the new task. */
function auditOf(task: TaskRecord, options: TaskCreationOptions): AuthNewAuditEntry | undefined {
  return options.audit === undefined ? undefined : { ...options.audit, taskId: task.id };
}

/** The 409 of a deployment or undeployment refused because `blocking` is unfinished. */
export function unfinishedDeployment(blocking: TaskRecord): ConflictError {
  const where = blocking.deployment ? `${blocking.deployment.application} to ${blocking.deployment.environment}` : 'it';
  return new ConflictError(
    `${taskLabel(blocking)} is unfinished: one deployment of ${where} at a time; archive, cancel or finish it first`,
  );
}

import { randomUUID } from 'node:crypto';
import { ErrorCode, IllegalTransitionError, NotFoundError, ValidationError } from '@shipdeck/errors';
import { Environment, Host, PackageVersion, parseManifest } from '@shipdeck/domain';
import { Logger } from '@shipdeck/logging';
import { Stores, advanceTask } from '@shipdeck/persistence';
import { PluginRegistry } from '@shipdeck/plugins';
import { planControl, planDeployment, planUndeployment } from '@shipdeck/planner';
import {
  Plan,
  ShownTaskState,
  TaskOperation,
  TaskRecord,
  TaskView,
  buildPlan,
  clonePlan,
  findStep,
  flattenSteps,
  isActive,
  pauseBeforeStep,
  renderTask,
  skipStep,
  transition,
  unskipStep,
} from '@shipdeck/tasks';
import {
  ArchiveListFilter,
  ControlTaskRequest,
  DeploymentPreview,
  DeploymentRequest,
  ServerInfo,
  ShipdeckService,
  TaskListFilter,
  UndeploymentRequest,
} from './service';
import { TaskAnnouncer } from './task-publisher';
import { GhostTaskRestore, WorkerPool, WorkerView } from './workers';

/** Task states in which the plan may be changed (the task is not executing and not finished). */
const PLAN_EDITABLE = new Set(['PENDING', 'SCHEDULED', 'QUEUED', 'STOPPED', 'FAILED', 'ABORTED']);

export interface MasterServiceOptions {
  stores: Stores;
  registry: PluginRegistry;
  announcer: TaskAnnouncer;
  workers: WorkerPool;
  logger: Logger;
  info: ServerInfo;
}

/** The master's implementation of every client operation (spec §6), on the shared database. */
export class MasterService implements ShipdeckService {
  private readonly stores: Stores;
  private readonly logger: Logger;

  constructor(private readonly options: MasterServiceOptions) {
    this.stores = options.stores;
    this.logger = options.logger;
  }

  // ---- infrastructure and environments

  async putHost(host: Host): Promise<{ created: boolean; host: Host }> {
    this.options.registry.hostType(host.type);
    const created = (await this.stores.hosts.get(host.name)) === null;
    await this.stores.hosts.put(host);
    return { created, host };
  }

  async getHost(name: string): Promise<Host> {
    const host = await this.stores.hosts.get(name);
    if (!host) throw new NotFoundError(ErrorCode.HOST_NOT_FOUND, `host ${name} does not exist`);
    return host;
  }

  listHosts(): Promise<Host[]> {
    return this.stores.hosts.list();
  }

  async deleteHost(name: string): Promise<void> {
    if (!(await this.stores.hosts.delete(name))) {
      throw new NotFoundError(ErrorCode.HOST_NOT_FOUND, `host ${name} does not exist`);
    }
  }

  async putEnvironment(environment: Environment): Promise<{ created: boolean; environment: Environment }> {
    const missing: string[] = [];
    for (const [i, name] of environment.hosts.entries()) {
      if (!(await this.stores.hosts.get(name))) missing.push(`${i}:${name}`);
    }
    if (missing.length > 0) {
      throw new ValidationError(
        'environment names hosts that do not exist',
        missing.map((m) => {
          const [i, name] = m.split(':');
          return { field: `hosts[${i}]`, message: `host ${name} does not exist; create it with PUT /api/v1/hosts/${name}` };
        }),
      );
    }
    const created = (await this.stores.environments.get(environment.name)) === null;
    await this.stores.environments.put(environment);
    return { created, environment };
  }

  async getEnvironment(name: string): Promise<Environment> {
    const environment = await this.stores.environments.get(name);
    if (!environment) throw new NotFoundError(ErrorCode.ENVIRONMENT_NOT_FOUND, `environment ${name} does not exist`);
    return environment;
  }

  listEnvironments(): Promise<Environment[]> {
    return this.stores.environments.list();
  }

  async getDeployed(environment: string) {
    await this.getEnvironment(environment);
    return this.stores.deployed.listForEnvironment(environment);
  }

  // ---- packages

  async importPackage(manifest: unknown): Promise<PackageVersion> {
    const pkg = parseManifest(manifest, this.options.registry);
    await this.stores.packages.put(pkg);
    this.logger.info('package imported', { application: pkg.application, version: pkg.version });
    return (await this.stores.packages.get(pkg.application, pkg.version)) ?? pkg;
  }

  listApplications() {
    return this.stores.packages.listApplications();
  }

  async listVersions(application: string): Promise<string[]> {
    const versions = await this.stores.packages.listVersions(application);
    if (!versions) throw new NotFoundError(ErrorCode.APPLICATION_NOT_FOUND, `application ${application} does not exist`);
    return versions;
  }

  // ---- planning and task creation

  async previewDeployment(request: DeploymentRequest): Promise<DeploymentPreview> {
    const planned = await this.planFor(request);
    const task = this.newTask('DEPLOYMENT', '', buildPlan(planned.phases));
    return {
      kind: planned.kind,
      deployeds: planned.deployeds,
      delta: planned.delta,
      plan: renderTask(task).plan,
    };
  }

  async createDeployment(request: DeploymentRequest): Promise<TaskView> {
    const planned = await this.planFor(request);
    const plan = buildPlan(planned.phases);
    applyPlanChanges(plan, request);
    const verb = planned.kind === 'UPDATE' ? 'Update' : 'Deploy';
    const task = this.newTask('DEPLOYMENT', `${verb} ${request.application} ${request.version} to ${request.environment}`, plan);
    task.deployment = {
      application: request.application,
      version: request.version,
      environment: request.environment,
      kind: planned.kind,
      deployeds: planned.deployeds,
    };
    return this.insert(task);
  }

  async createUndeployment(request: UndeploymentRequest): Promise<TaskView> {
    const environment = await this.getEnvironment(request.environment);
    const current = await this.stores.deployed.get(request.environment, request.application);
    if (!current) {
      throw new NotFoundError(
        ErrorCode.NOT_DEPLOYED,
        `application ${request.application} is not deployed to environment ${request.environment}`,
      );
    }
    const planned = planUndeployment({
      current,
      hosts: await this.hostsOf(environment),
      types: this.options.registry,
    });
    const task = this.newTask(
      'DEPLOYMENT',
      `Undeploy ${request.application} ${current.version} from ${request.environment}`,
      buildPlan(planned.phases),
    );
    task.deployment = {
      application: request.application,
      version: null,
      environment: request.environment,
      kind: 'UNDEPLOY',
      deployeds: [],
    };
    return this.insert(task);
  }

  async createControlTask(request: ControlTaskRequest): Promise<TaskView> {
    const host = await this.getHost(request.target);
    const parameters = request.parameters ?? {};
    const phases = planControl({ host, control: request.control, parameters, types: this.options.registry });
    const task = this.newTask('CONTROL', `${request.control} on ${host.name}`, buildPlan(phases));
    task.control = { target: host.name, control: request.control, parameters };
    return this.insert(task);
  }

  // ---- tasks

  async listTasks(filter: TaskListFilter): Promise<TaskView[]> {
    const tasks = await this.stores.tasks.list({
      state: filter.state === 'UNKNOWN' ? undefined : filter.state,
      type: filter.type,
      workerId: filter.worker,
    });
    const views = tasks.map((t) => renderTask(t, this.shownState(t)));
    return filter.state ? views.filter((v) => v.state === filter.state) : views;
  }

  async getTask(id: string): Promise<TaskView> {
    const task = await this.load(id);
    return renderTask(task, this.shownState(task));
  }

  async readStepLog(id: string, path: string): Promise<string> {
    const task = await this.load(id);
    findStep(task.plan, path);
    return this.stores.logs.read(id, path);
  }

  async operate(id: string, operation: TaskOperation, options: { at?: Date } = {}): Promise<TaskView> {
    const task = await this.load(id);
    this.refuseWhileUnknown(task, operation);
    switch (operation) {
      case 'start':
        return this.start(id);
      case 'schedule':
        return this.schedule(id, options.at ?? new Date());
      case 'stop':
      case 'abort':
        return this.interrupt(id, operation);
      case 'cancel':
        return this.cancel(id);
      case 'archive':
        return this.archive(id);
    }
  }

  skipStep(id: string, path: string): Promise<TaskView> {
    return this.editPlan(id, 'skip', (plan) => skipStep(plan, path));
  }

  unskipStep(id: string, path: string): Promise<TaskView> {
    return this.editPlan(id, 'unskip', (plan) => unskipStep(plan, path));
  }

  pauseBefore(id: string, path: string): Promise<TaskView> {
    return this.editPlan(id, 'pause before a step of', (plan) => pauseBeforeStep(plan, path));
  }

  async removeTask(id: string): Promise<void> {
    const task = await this.load(id);
    const shown = this.shownState(task);
    if (shown !== 'UNKNOWN') throw new IllegalTransitionError('remove', shown);
    await this.stores.tasks.remove(id);
    this.logger.warn('UNKNOWN task removed from the monitor; if its worker comes back it is a ghost task there', {
      taskId: id,
      worker: task.workerId,
    });
  }

  async listWorkers(): Promise<WorkerView[]> {
    return this.options.workers.list(await this.stores.tasks.list());
  }

  drainWorker(id: string): Promise<{ message: string }> {
    return this.options.workers.drain(id);
  }

  forgetWorker(id: string): Promise<void> {
    return this.options.workers.forget(id);
  }

  restoreGhostTasks(): Promise<GhostTaskRestore> {
    return this.options.workers.restoreGhostTasks();
  }

  async listArchive(filter: ArchiveListFilter): Promise<TaskView[]> {
    return (await this.stores.tasks.listArchived(filter)).map((t) => renderTask(t));
  }

  serverInfo(): ServerInfo {
    return this.options.info;
  }

  async checkReady(): Promise<void> {
    await this.stores.ping();
    await this.options.announcer.checkReady();
  }

  // ---- internals

  private async start(id: string): Promise<TaskView> {
    const queued = await advanceTask(this.stores.tasks, id, 'start', (current) => {
      const plan = clonePlan(current.plan);
      // A new attempt continues from the failed step: failed steps run again, done ones do not.
      for (const step of flattenSteps(plan)) if (step.state === 'FAILED') step.state = 'PENDING';
      return { plan, attempt: current.attempt + 1, failure: null, completedAt: null, queuedAt: new Date().toISOString() };
    });
    if (!queued) throw taskNotFound(id);
    this.logger.info('task queued', { taskId: id, attempt: queued.attempt });
    await this.options.announcer.announce(queued);
    return this.view(queued);
  }

  private async schedule(id: string, at: Date): Promise<TaskView> {
    const scheduled = await advanceTask(this.stores.tasks, id, 'schedule', () => ({ scheduledAt: at.toISOString() }));
    if (!scheduled) throw taskNotFound(id);
    this.logger.info('task scheduled', { taskId: id, at: at.toISOString() });
    return this.view(scheduled);
  }

  private async interrupt(id: string, operation: 'stop' | 'abort'): Promise<TaskView> {
    const updated = await advanceTask(this.stores.tasks, id, operation);
    if (!updated) throw taskNotFound(id);
    this.logger.info(`task ${operation} requested`, { taskId: id, worker: updated.workerId });
    await this.options.workers[operation](updated);
    return this.view((await this.stores.tasks.get(id)) ?? updated);
  }

  private async cancel(id: string): Promise<TaskView> {
    await advanceTask(this.stores.tasks, id, 'cancel');
    // Nothing runs for a task that can be cancelled, so cancellation has no clean-up to wait for.
    const cancelled = await advanceTask(this.stores.tasks, id, 'cancelled', () => ({
      completedAt: new Date().toISOString(),
    }));
    if (!cancelled) throw taskNotFound(id);
    this.logger.info('task cancelled', { taskId: id });
    return this.view(cancelled);
  }

  private async archive(id: string): Promise<TaskView> {
    const task = await this.load(id);
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
    const archived = await this.stores.tasks.archive(id, change, new Date());
    if (!archived) {
      const now = await this.load(id);
      throw new IllegalTransitionError('archive', now.state);
    }
    this.logger.info('task archived', { taskId: id });
    return this.view(archived);
  }

  private async editPlan(id: string, what: string, edit: (plan: Plan) => void): Promise<TaskView> {
    for (;;) {
      const task = await this.load(id);
      this.refuseWhileUnknown(task, what);
      if (!PLAN_EDITABLE.has(task.state)) throw new IllegalTransitionError(what, task.state);
      const plan = clonePlan(task.plan);
      edit(plan);
      // Compare-and-set on the state: a worker claiming the task meanwhile makes this fail and retry.
      const updated = await this.stores.tasks.compareAndSet(id, task.state, { state: task.state, plan });
      if (updated) return this.view(updated);
    }
  }

  private async planFor(request: DeploymentRequest) {
    const pkg = await this.stores.packages.get(request.application, request.version);
    if (!pkg) {
      const versions = await this.stores.packages.listVersions(request.application);
      if (!versions) {
        throw new NotFoundError(ErrorCode.APPLICATION_NOT_FOUND, `application ${request.application} does not exist`);
      }
      throw new NotFoundError(
        ErrorCode.VERSION_NOT_FOUND,
        `application ${request.application} has no version ${request.version} (known: ${versions.join(', ') || 'none'})`,
      );
    }
    const environment = await this.getEnvironment(request.environment);
    return planDeployment({
      pkg,
      environment,
      hosts: await this.hostsOf(environment),
      current: await this.stores.deployed.get(request.environment, request.application),
      types: this.options.registry,
    });
  }

  private async hostsOf(environment: Environment): Promise<Host[]> {
    const hosts: Host[] = [];
    for (const name of environment.hosts) {
      const host = await this.stores.hosts.get(name);
      if (!host) {
        throw new ValidationError(`environment ${environment.name} names host ${name}, which does not exist`, [
          { field: 'environment', message: `host ${name} of environment ${environment.name} does not exist` },
        ]);
      }
      hosts.push(host);
    }
    return hosts;
  }

  private newTask(type: TaskRecord['type'], description: string, plan: Plan): TaskRecord {
    return {
      id: randomUUID(),
      type,
      description,
      state: 'PENDING',
      plan,
      workerId: null,
      leaseUntil: null,
      attempt: 0,
      deployment: null,
      control: null,
      scheduledAt: null,
      createdAt: new Date().toISOString(),
      queuedAt: null,
      claimedAt: null,
      startedAt: null,
      completedAt: null,
      failure: null,
    };
  }

  private async insert(task: TaskRecord): Promise<TaskView> {
    await this.stores.tasks.insert(task);
    this.logger.info('task created', { taskId: task.id, description: task.description });
    return this.view(task);
  }

  private async load(id: string): Promise<TaskRecord> {
    const task = await this.stores.tasks.get(id);
    if (!task) throw taskNotFound(id);
    return task;
  }

  private view(task: TaskRecord): TaskView {
    return renderTask(task, this.shownState(task));
  }

  private shownState(task: TaskRecord): ShownTaskState {
    const owner = task.workerId;
    if (owner && isActive(task.state) && this.options.workers.isDisconnected(owner)) return 'UNKNOWN';
    return task.state;
  }

  /** A task whose worker is gone cannot be managed until the worker is back (spec §4). */
  private refuseWhileUnknown(task: TaskRecord, operation: string): void {
    if (this.shownState(task) === 'UNKNOWN') throw new IllegalTransitionError(operation, 'UNKNOWN');
  }
}

function taskNotFound(id: string): NotFoundError {
  return new NotFoundError(ErrorCode.TASK_NOT_FOUND, `task ${id} does not exist`);
}

/** Applies the skip and pause-before lists of a deployment request; an unknown path names its field. */
function applyPlanChanges(plan: Plan, request: DeploymentRequest): void {
  const details: { field: string; message: string }[] = [];
  const apply = (paths: string[] | undefined, field: string, change: (path: string) => void) =>
    paths?.forEach((path, i) => {
      try {
        change(path);
      } catch (error) {
        details.push({ field: `${field}[${i}]`, message: error instanceof Error ? error.message : String(error) });
      }
    });
  apply(request.skipSteps, 'skipSteps', (path) => skipStep(plan, path));
  apply(request.pauseBefore, 'pauseBefore', (path) => pauseBeforeStep(plan, path));
  if (details.length > 0) throw new ValidationError('the plan has no such steps', details);
}

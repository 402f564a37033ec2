import { Writable } from 'node:stream';
import { createLogger, format, Logger, transports } from 'winston';
import { DeployedApplication, Environment, Host, PackageVersion } from '@shipdeck/domain';
import { ConflictError, ErrorCode, IllegalTransitionError, NotFoundError, ValidationError } from '@shipdeck/errors';
import type {
  ArchiveListFilter,
  ControlTaskRequest,
  DeploymentPreview,
  DeploymentRequest,
  GhostTaskRestore,
  ServerInfo,
  WorkerView,
  ShipdeckService,
  TaskListFilter,
  UndeploymentRequest,
} from '@shipdeck/master-services';
import { TaskOperation, TaskState, TaskView, transition } from '@shipdeck/tasks';

/** A call the REST layer made on the fake service. */
export interface ServiceCall {
  method: keyof ShipdeckService;
  args: unknown[];
}

/** A task view with one phase, one block and two steps. */
export function taskView(id: string, state: TaskView['state'] = 'PENDING'): TaskView {
  const step = (n: number) => ({
    path: `1-1-${n}`,
    description: `Step ${n} on local`,
    state: 'PENDING' as const,
    order: 50,
    host: 'local',
    ciType: 'cmd.Command',
    operation: 'CREATE',
    pauseBefore: false,
    startedAt: null,
    completedAt: null,
    failure: null,
  });
  const steps = [step(1), step(2)];
  return {
    id,
    type: 'DEPLOYMENT',
    description: `Deploy app 1.0 to dev (${id})`,
    state,
    worker: null,
    attempt: 0,
    application: 'app',
    version: '1.0',
    environment: 'dev',
    kind: 'INITIAL',
    failure: null,
    createdAt: '2030-01-01T00:00:00.000Z',
    scheduledAt: null,
    queuedAt: null,
    claimedAt: null,
    startedAt: null,
    completedAt: null,
    plan: {
      state: 'PENDING',
      phases: [
        {
          path: '1',
          description: 'Deploy',
          state: 'PENDING',
          blocks: [{ path: '1-1', description: 'Deploy on local', state: 'PENDING', parallel: false, steps }],
        },
      ],
    },
    steps,
  };
}

/**
 * An in-memory ShipdeckService that records every call. It enforces existence and the task
 * state machine like the real one, so the REST layer's error mapping can be exercised.
 * Tests replace single methods to simulate other failures.
 */
export class FakeService implements ShipdeckService {
  readonly calls: ServiceCall[] = [];
  readonly hosts = new Map<string, Host>();
  readonly environments = new Map<string, Environment>();
  readonly packages: PackageVersion[] = [];
  readonly tasks = new Map<string, TaskView>();
  ready = true;
  private nextId = 1;

  private record(method: keyof ShipdeckService, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }

  /** The arguments of the last call of `method`. */
  lastCall(method: keyof ShipdeckService): unknown[] | undefined {
    return [...this.calls].reverse().find((c) => c.method === method)?.args;
  }

  async putHost(host: Host) {
    this.record('putHost', host);
    const created = !this.hosts.has(host.name);
    this.hosts.set(host.name, host);
    return { created, host };
  }
  async getHost(name: string) {
    this.record('getHost', name);
    return this.host(name);
  }
  async listHosts() {
    this.record('listHosts');
    return [...this.hosts.values()];
  }
  async deleteHost(name: string) {
    this.record('deleteHost', name);
    this.host(name);
    this.hosts.delete(name);
  }
  private host(name: string): Host {
    const host = this.hosts.get(name);
    if (!host) throw new NotFoundError(ErrorCode.HOST_NOT_FOUND, `host ${name} does not exist`);
    return host;
  }

  async putEnvironment(environment: Environment) {
    this.record('putEnvironment', environment);
    const created = !this.environments.has(environment.name);
    this.environments.set(environment.name, environment);
    return { created, environment };
  }
  async getEnvironment(name: string) {
    this.record('getEnvironment', name);
    return this.environment(name);
  }
  async listEnvironments() {
    this.record('listEnvironments');
    return [...this.environments.values()];
  }
  async getDeployed(environment: string): Promise<DeployedApplication[]> {
    this.record('getDeployed', environment);
    this.environment(environment);
    return [{ environment, application: 'app', version: '1.0', deployeds: [] }];
  }
  private environment(name: string): Environment {
    const environment = this.environments.get(name);
    if (!environment) throw new NotFoundError(ErrorCode.ENVIRONMENT_NOT_FOUND, `environment ${name} does not exist`);
    return environment;
  }

  async importPackage(manifest: unknown): Promise<PackageVersion> {
    this.record('importPackage', manifest);
    const m = manifest as Partial<PackageVersion>;
    const details = [];
    if (typeof m.application !== 'string') details.push({ field: 'application', message: 'is required' });
    if (typeof m.version !== 'string') details.push({ field: 'version', message: 'is required' });
    if (details.length) throw new ValidationError('invalid manifest', details);
    const pkg: PackageVersion = { application: m.application!, version: m.version!, deployables: [] };
    this.packages.push(pkg);
    return pkg;
  }
  async listApplications() {
    this.record('listApplications');
    return [{ name: 'app', versions: ['1.0'] }];
  }
  async listVersions(application: string) {
    this.record('listVersions', application);
    if (application !== 'app') throw new NotFoundError(ErrorCode.APPLICATION_NOT_FOUND, `no application ${application}`);
    return ['1.0'];
  }

  async previewDeployment(request: DeploymentRequest): Promise<DeploymentPreview> {
    this.record('previewDeployment', request);
    this.environment(request.environment);
    return { kind: 'INITIAL', deployeds: [], delta: [], plan: taskView('preview').plan };
  }
  async createDeployment(request: DeploymentRequest) {
    this.record('createDeployment', request);
    this.environment(request.environment);
    return this.addTask('PENDING');
  }
  async createUndeployment(request: UndeploymentRequest) {
    this.record('createUndeployment', request);
    this.environment(request.environment);
    return this.addTask('PENDING');
  }
  async createControlTask(request: ControlTaskRequest) {
    this.record('createControlTask', request);
    this.host(request.target);
    return { ...this.addTask('PENDING'), type: 'CONTROL' as const };
  }
  /** Adds a task in `state` and answers it. */
  addTask(state: TaskView['state'], id = `t${this.nextId++}`): TaskView {
    const task = taskView(id, state);
    this.tasks.set(id, task);
    return task;
  }

  async listTasks(filter: TaskListFilter) {
    this.record('listTasks', filter);
    return [...this.tasks.values()].filter((t) => !filter.state || t.state === filter.state);
  }
  async getTask(id: string) {
    this.record('getTask', id);
    return this.task(id);
  }
  async readStepLog(id: string, path: string) {
    this.record('readStepLog', id, path);
    const task = this.task(id);
    if (!task.steps.some((s) => s.path === path)) throw new NotFoundError(ErrorCode.STEP_NOT_FOUND, `no step ${path}`);
    return `log of ${path}\nline 2\n`;
  }
  async operate(id: string, operation: TaskOperation, options?: { at?: Date }) {
    this.record('operate', id, operation, options);
    const task = this.task(id);
    if (task.state === 'UNKNOWN') throw new IllegalTransitionError(operation, task.state);
    const next = transition(task.state as TaskState, operation);
    const updated = { ...task, state: next };
    this.tasks.set(id, updated);
    return updated;
  }
  async skipStep(id: string, path: string) {
    this.record('skipStep', id, path);
    return this.task(id);
  }
  async unskipStep(id: string, path: string) {
    this.record('unskipStep', id, path);
    return this.task(id);
  }
  async pauseBefore(id: string, path: string) {
    this.record('pauseBefore', id, path);
    return this.task(id);
  }
  async removeTask(id: string) {
    this.record('removeTask', id);
    this.task(id);
    this.tasks.delete(id);
  }
  async listArchive(filter: ArchiveListFilter) {
    this.record('listArchive', filter);
    return [];
  }
  private task(id: string): TaskView {
    const task = this.tasks.get(id);
    if (!task) throw new NotFoundError(ErrorCode.TASK_NOT_FOUND, `task ${id} does not exist`);
    return task;
  }

  readonly workers = new Map<string, WorkerView>();

  async listWorkers() {
    this.record('listWorkers');
    return [...this.workers.values()];
  }
  async drainWorker(id: string) {
    this.record('drainWorker', id);
    this.worker(id);
    return { message: `worker ${id} is draining` };
  }
  async forgetWorker(id: string) {
    this.record('forgetWorker', id);
    const worker = this.worker(id);
    if (worker.state !== 'DISCONNECTED') throw new ConflictError(`worker ${id} is ${worker.state}`);
    this.workers.delete(id);
  }
  async restoreGhostTasks(): Promise<GhostTaskRestore> {
    this.record('restoreGhostTasks');
    return { tasks: ['t9'], workers: [{ id: 'w1', ok: true, message: '1 ghost task registered again', tasks: ['t9'] }] };
  }
  private worker(id: string): WorkerView {
    const worker = this.workers.get(id);
    if (!worker) throw new NotFoundError(ErrorCode.WORKER_NOT_FOUND, `worker ${id} is not known to this master`);
    return worker;
  }

  serverInfo(): ServerInfo {
    this.record('serverInfo');
    return { version: '0.1.0', role: 'master', id: 'm1', configHash: 'abc', inProcessWorker: true };
  }
  async checkReady() {
    this.record('checkReady');
    if (!this.ready) throw new Error('connect ECONNREFUSED 10.0.0.1:5432 password=secret');
  }
}

/** One line written by {@link memoryLogger}. */
export interface LogEntry {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** A winston logger at debug level whose entries land in `entries`. */
export function memoryLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      entries.push(JSON.parse(chunk.toString()) as LogEntry);
      callback();
    },
  });
  const logger = createLogger({ level: 'debug', format: format.json(), transports: [new transports.Stream({ stream })] });
  return { logger, entries };
}

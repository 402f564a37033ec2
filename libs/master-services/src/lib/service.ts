import { DeployedApplication, Delta, Deployed, DeploymentKind, Environment, Host, PackageVersion } from '@shipdeck/domain';
import { PlanView, TaskOperation, TaskType, TaskView, TaskState } from '@shipdeck/tasks';
import { GhostTaskRestore, WorkerView } from './workers';

export interface DeploymentRequest {
  application: string;
  version: string;
  environment: string;
  /** Step paths to mark SKIPPED in the new plan. */
  skipSteps?: string[];
  /** Step paths to pause before. */
  pauseBefore?: string[];
}

export interface UndeploymentRequest {
  application: string;
  environment: string;
}

export interface ControlTaskRequest {
  /** The CI the control runs on: a host name. */
  target: string;
  control: string;
  parameters?: Record<string, unknown>;
}

export interface DeploymentPreview {
  kind: DeploymentKind;
  deployeds: Deployed[];
  delta: Delta[];
  plan: PlanView;
}

export interface ServerInfo {
  version: string;
  role: 'master';
  id: string;
  configHash: string;
  inProcessWorker: boolean;
}

export interface TaskListFilter {
  state?: TaskState | 'UNKNOWN';
  type?: TaskType;
  worker?: string;
}

export interface ArchiveListFilter {
  from?: string;
  to?: string;
  application?: string;
  environment?: string;
}

/**
 * Everything a master does for its clients. The REST layer validates input shapes and calls
 * this; every domain rule (existence, state transitions, planning) is enforced here and raised
 * as a ShipdeckError with a stable code.
 */
export interface ShipdeckService {
  putHost(host: Host): Promise<{ created: boolean; host: Host }>;
  getHost(name: string): Promise<Host>;
  listHosts(): Promise<Host[]>;
  deleteHost(name: string): Promise<void>;

  putEnvironment(environment: Environment): Promise<{ created: boolean; environment: Environment }>;
  getEnvironment(name: string): Promise<Environment>;
  listEnvironments(): Promise<Environment[]>;
  getDeployed(environment: string): Promise<DeployedApplication[]>;

  /** Validates a parsed manifest (any shape) and imports it; a ValidationError names every bad field. */
  importPackage(manifest: unknown): Promise<PackageVersion>;
  listApplications(): Promise<{ name: string; versions: string[] }[]>;
  listVersions(application: string): Promise<string[]>;

  previewDeployment(request: DeploymentRequest): Promise<DeploymentPreview>;
  createDeployment(request: DeploymentRequest): Promise<TaskView>;
  createUndeployment(request: UndeploymentRequest): Promise<TaskView>;
  createControlTask(request: ControlTaskRequest): Promise<TaskView>;

  listTasks(filter: TaskListFilter): Promise<TaskView[]>;
  getTask(id: string): Promise<TaskView>;
  readStepLog(id: string, path: string): Promise<string>;
  /** start, stop, abort, cancel, archive; `schedule` needs `at`. 409 ILLEGAL_TRANSITION when not allowed. */
  operate(id: string, operation: TaskOperation, options?: { at?: Date }): Promise<TaskView>;
  skipStep(id: string, path: string): Promise<TaskView>;
  unskipStep(id: string, path: string): Promise<TaskView>;
  pauseBefore(id: string, path: string): Promise<TaskView>;
  /** Removes a task shown UNKNOWN from the monitor; 409 in any other state. */
  removeTask(id: string): Promise<void>;
  listArchive(filter: ArchiveListFilter): Promise<TaskView[]>;

  /** Workers as this master sees them (spec §4). */
  listWorkers(): Promise<WorkerView[]>;
  /** Tells a worker to drain: it takes no new tasks, finishes its running ones, then exits. */
  drainWorker(id: string): Promise<{ message: string }>;
  /** Forgets a DISCONNECTED worker. */
  forgetWorker(id: string): Promise<void>;
  /** Makes every worker register its ghost tasks again. */
  restoreGhostTasks(): Promise<GhostTaskRestore>;

  serverInfo(): ServerInfo;
  /** Resolves when the master can serve (database reachable); throws NotReadyError otherwise. */
  checkReady(): Promise<void>;
}

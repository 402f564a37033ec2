import { Delta, Deployed, DeploymentKind } from '@shipdeck/domain';
import type { AuthNewAuditEntry } from '@shipdeck/persistence';
import { PlanView, TaskState, TaskType } from '@shipdeck/tasks';

/*
 * What clients ask the master services for, and what some of them answer: the shapes the REST
 * layer builds from validated bodies and queries.
 */

/** How a task is created. */
export interface TaskCreationOptions {
  /** Start it too: stored QUEUED, as `POST /tasks/{id}/start` would make it, and published. Default: PENDING. */
  start?: boolean;
  /**
   * The audit entry of the request creating the task, stored with the task (both or neither) and
   * naming it; none when the caller audits otherwise.
   */
  audit?: Omit<AuthNewAuditEntry, 'taskId'>;
}

/** A deployment to plan or create. */
export interface DeploymentRequest {
  application: string;
  version: string;
  environment: string;
  /** Step paths to mark SKIPPED in the new plan. */
  skipSteps?: string[];
  /** Step paths to pause before. */
  pauseBefore?: string[];
}

/** Removes an application from an environment. */
export interface UndeploymentRequest {
  application: string;
  environment: string;
}

/** Runs a control (e.g. checkConnection) on a host. */
export interface ControlTaskRequest {
  /** The CI the control runs on: a host name. */
  target: string;
  control: string;
  parameters?: Record<string, unknown>;
}

/** What a deployment would do, without creating a task. */
export interface DeploymentPreview {
  kind: DeploymentKind;
  deployeds: Deployed[];
  delta: Delta[];
  plan: PlanView;
}

/** `GET /server/info`. */
export interface ServerInfo {
  version: string;
  role: 'master';
  id: string;
  configHash: string;
  inProcessWorker: boolean;
}

/** Filter of `GET /tasks`; UNKNOWN is a shown state, not a stored one. */
export interface TaskListFilter {
  state?: TaskState | 'UNKNOWN';
  type?: TaskType;
  worker?: string;
}

/** Filter of `GET /archive/tasks`: ISO times compared with completion. */
export interface ArchiveListFilter {
  from?: string;
  to?: string;
  application?: string;
  environment?: string;
}

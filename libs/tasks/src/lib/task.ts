import { Deployed, DeploymentKind } from '@shipdeck/domain';
import { Plan } from './plan';
import { TaskState, TaskType } from './states';

/** What a deployment task changes, kept so that archiving can record the environment's new state. */
export interface DeploymentInfo {
  application: string;
  /** The version being deployed; null for an undeployment. */
  version: string | null;
  environment: string;
  kind: DeploymentKind;
  /** The application's deployeds once the task is archived (empty after an undeployment). */
  deployeds: Deployed[];
}

export interface ControlInfo {
  /** The CI the control runs on, e.g. a host name. */
  target: string;
  control: string;
  parameters: Record<string, unknown>;
}

/** A task as stored: the single source of truth shared by masters and workers. */
export interface TaskRecord {
  id: string;
  type: TaskType;
  description: string;
  state: TaskState;
  plan: Plan;
  /** The worker that owns the task, from its claim until it is archived or cancelled. */
  workerId: string | null;
  /** Until when the owner's claim is valid unless renewed (ISO time). */
  leaseUntil: string | null;
  /** How many times the task was started. */
  attempt: number;
  deployment: DeploymentInfo | null;
  control: ControlInfo | null;
  scheduledAt: string | null;
  createdAt: string;
  /** When the task was last queued (start, or a scheduled task falling due). */
  queuedAt: string | null;
  /** When a worker last claimed it. */
  claimedAt: string | null;
  /** When a worker first claimed it. */
  startedAt: string | null;
  completedAt: string | null;
  /** Why the task failed, in one line. */
  failure: string | null;
}

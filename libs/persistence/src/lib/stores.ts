import { DeployedApplication, Environment, Host, PackageVersion } from '@shipdeck/domain';
import { Plan, TaskPatch, TaskRecord, TaskState, TaskStateStore, TaskType } from '@shipdeck/tasks';
import type { AuthNewAuditEntry, TypeormAuthStore } from './auth';

/** Filter of current (not archived) tasks. */
export interface TaskFilter {
  state?: TaskState;
  type?: TaskType;
  workerId?: string;
  /** Deployment tasks of this application only. */
  application?: string;
  /** Deployment tasks to this environment only. */
  environment?: string;
}

/** Filter of archived tasks (DONE and CANCELLED). Times are ISO strings, compared with completedAt. */
export interface ArchiveFilter {
  from?: string;
  to?: string;
  application?: string;
  environment?: string;
}

export type { TaskPatch };

/** A task's state and owner, as the worker's maintenance reads them for many tasks at once. */
export interface TaskStateOf {
  id: string;
  state: TaskState;
  workerId: string | null;
}

/**
 * Reading and changing tasks, shared by masters and workers. Every state change is a
 * compare-and-set on the state.
 */
export interface TaskRepository extends TaskStateStore {
  /**
   * Inserts a new task. With `audit` (the audit entry of the request that creates it), the entry is
   * stored with the task, atomically: both or neither, so a task never lacks its creation's entry.
   */
  insert(task: TaskRecord, audit?: AuthNewAuditEntry): Promise<void>;
  /**
   * Inserts a deployment task unless a current (not DONE or CANCELLED) deployment task of the same
   * application and environment exists. Answers that blocking task, and inserts nothing, or null
   * when the task was inserted. Concurrent calls for one application and environment (from any
   * master) are serialized, so at most one of them inserts. `audit` as for {@link insert}: stored
   * only when the task is.
   */
  insertExclusive(
    task: TaskRecord & { deployment: NonNullable<TaskRecord['deployment']> },
    audit?: AuthNewAuditEntry,
  ): Promise<TaskRecord | null>;
  get(id: string): Promise<TaskRecord | null>;
  /** Current tasks (every state but DONE and CANCELLED), oldest first. */
  list(filter?: TaskFilter): Promise<TaskRecord[]>;
  /**
   * Applies `patch` only if the task is still in `expected` state. Answers the updated task, or
   * null when the state was not `expected` any more (someone else changed it first). A patch that
   * carries `state`, even the same one, also stamps the state-change time {@link TaskSweeps.queuedBefore}
   * compares (that is how the reconciler marks a QUEUED task it republished).
   * With `owner`, the task must also still be owned by that worker (a worker never changes a
   * task another worker adopted).
   */
  compareAndSet(id: string, expected: TaskState, patch: TaskPatch, owner?: string): Promise<TaskRecord | null>;
  /**
   * State and owner of each listed task that exists, in one query (a task missing from the answer
   * was removed). Order is not specified.
   */
  statesOf(ids: string[]): Promise<TaskStateOf[]>;
  /** Deletes a task and its step logs (a task removed from the monitor); false when there was none. */
  remove(id: string): Promise<boolean>;
}

/** Ownership of tasks by workers: the claim, leases, checkpoints of the plan, takeover. */
export interface TaskLeases {
  /**
   * The claim: QUEUED → EXECUTING with `workerId` as owner and a lease until `leaseUntil`, only if the
   * task is QUEUED. Exactly one of any number of concurrent claims wins; the others get null.
   */
  claim(id: string, workerId: string, leaseUntil: Date): Promise<TaskRecord | null>;
  /**
   * Stores the plan of a task the worker owns; answers the task's state as of that write (a stop or
   * abort a master recorded shows there), or null when the worker no longer owns it.
   */
  savePlan(id: string, workerId: string, plan: Plan): Promise<TaskState | null>;
  /** Extends the lease of every listed task still owned by `workerId`; answers the ids it still owns. */
  renewLeases(workerId: string, ids: string[], leaseUntil: Date): Promise<string[]>;
  /** Active tasks whose owner's lease ended before `before` (candidates for takeover). */
  leaseExpiredBefore(before: Date): Promise<TaskRecord[]>;
  /**
   * Takeover: makes `workerId` the owner of an active task, only if it is still owned by
   * `from.workerId` with exactly the expired lease `from.leaseUntil` (so of concurrent adopters
   * one wins, and an owner that renewed meanwhile keeps it). Null when someone else won.
   */
  adopt(id: string, from: { workerId: string; leaseUntil: string }, workerId: string, leaseUntil: Date): Promise<TaskRecord | null>;
  /** Tasks owned by `workerId` in an active state (EXECUTING, STOPPING, FAILING, ABORTING). */
  activeOwnedBy(workerId: string): Promise<TaskRecord[]>;
}

/** What the masters' reconciler sweeps for. */
export interface TaskSweeps {
  /** QUEUED tasks whose last state change is older than `before` (the reconciler republishes them). */
  queuedBefore(before: Date): Promise<TaskRecord[]>;
  /** SCHEDULED tasks due at or before `now`. */
  scheduledDue(now: Date): Promise<TaskRecord[]>;
}

/** Counts of tasks for metrics. */
export interface TaskCounts {
  /** How many tasks of each (state, type) the table holds, archived ones included, in one query. */
  countByStateAndType(): Promise<{ state: TaskState; type: string; count: number }[]>;
}

/** Finished tasks: archiving them, and listing the archive. */
export interface TaskArchive {
  /** DONE and CANCELLED tasks, newest first. */
  listArchived(filter?: ArchiveFilter): Promise<TaskRecord[]>;
  /**
   * EXECUTED → DONE, and in the same transaction the environment's deployed state: `deployed` is
   * upserted, or removed when `undeploy` names (environment, application). Null when the task was
   * not EXECUTED any more.
   */
  archive(
    id: string,
    change: { deployed?: DeployedApplication; undeploy?: { environment: string; application: string } },
    completedAt: Date,
  ): Promise<TaskRecord | null>;
}

/** Every role of the task store, over one table; components should depend on the roles they use. */
export type TaskStore = TaskRepository & TaskLeases & TaskSweeps & TaskArchive & TaskCounts;

/** Step logs: append-only text per (task, step path). */
export interface StepLogStore {
  append(taskId: string, path: string, text: string): Promise<void>;
  /** The whole log, '' when the step has written nothing. */
  read(taskId: string, path: string): Promise<string>;
  removeTask(taskId: string): Promise<void>;
}

export interface HostStore {
  put(host: Host): Promise<void>;
  get(name: string): Promise<Host | null>;
  list(): Promise<Host[]>;
  /** Answers false when there was no such host. */
  delete(name: string): Promise<boolean>;
}

export interface EnvironmentStore {
  put(environment: Environment): Promise<void>;
  get(name: string): Promise<Environment | null>;
  list(): Promise<Environment[]>;
  /** Answers false when there was no such environment. */
  delete(name: string): Promise<boolean>;
}

export interface PackageStore {
  /** Imports a version; importing an existing (application, version) replaces it. */
  put(pkg: PackageVersion): Promise<void>;
  /**
   * Imports a version only if (application, version) was never imported; answers false, and
   * changes nothing, when it was (package versions are immutable).
   */
  add(pkg: PackageVersion): Promise<boolean>;
  get(application: string, version: string): Promise<PackageVersion | null>;
  /** Every application with its versions, in import order. */
  listApplications(): Promise<{ name: string; versions: string[] }[]>;
  /** Null when the application does not exist. */
  listVersions(application: string): Promise<string[] | null>;
}

/** A worker as the cluster remembers it (its live state is each master's own view). */
export interface WorkerRecord {
  id: string;
  name: string;
  address: string;
  configHash: string;
  capacity: number;
  registeredAt: string;
  lastSeen: string;
}

export interface WorkerStore {
  /** Records a (re)registration or a sign of life. */
  put(worker: WorkerRecord): Promise<void>;
  get(id: string): Promise<WorkerRecord | null>;
  list(): Promise<WorkerRecord[]>;
  /** Answers false when there was no such worker. */
  delete(id: string): Promise<boolean>;
}

/**
 * With mutual TLS on the command channel, which certificate subject each worker id belongs to.
 * Bindings are permanent: a worker whose certificate subject changes registers under a new id.
 */
export interface WorkerCertificateStore {
  /**
   * Binds `workerId` to `subject` unless it is bound already (atomic across masters); answers
   * the subject the id is bound to now.
   */
  bind(workerId: string, subject: string): Promise<string>;
}

export interface DeployedStore {
  get(environment: string, application: string): Promise<DeployedApplication | null>;
  listForEnvironment(environment: string): Promise<DeployedApplication[]>;
}

/** Every store, over one database connection pool. */
export interface Stores {
  tasks: TaskStore;
  logs: StepLogStore;
  hosts: HostStore;
  environments: EnvironmentStore;
  packages: PackageStore;
  deployed: DeployedStore;
  workers: WorkerStore;
  workerCertificates: WorkerCertificateStore;
  /** Users, API tokens, sessions and the audit trail. */
  auth: TypeormAuthStore;
  /** Answers once the database answers a trivial query (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

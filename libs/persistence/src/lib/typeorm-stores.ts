import { EntityManager, In, Not, ObjectLiteral } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { DeployedApplication, Environment, Host, PackageVersion } from '@shipdeck/domain';
import { ConflictError, ValidationError } from '@shipdeck/errors';
import { ACTIVE_STATES, FINAL_STATES, Plan, TaskRecord, TaskState, TaskType } from '@shipdeck/tasks';
import { Database } from './database';
import { DeployedApplicationRow, EnvironmentRow, HostRow, PackageRow, TaskRow, WorkerRow } from './entities';
import {
  ArchiveFilter,
  DeployedStore,
  EnvironmentStore,
  HostStore,
  PackageStore,
  StepLogStore,
  TaskFilter,
  TaskPatch,
  TaskStore,
  WorkerRecord,
  WorkerStore,
} from './stores';

/** The clock the stores stamp `state_changed_at` and similar times with. */
export type Clock = () => Date;

/*
 * Conversions at the boundary: records carry ISO strings, rows carry Dates. Rows may also come
 * raw from `RETURNING *` or SQLite text, so readers accept strings too.
 */

/** Column values to write; a function is raw SQL (e.g. `COALESCE(started_at, :now)`). */
type ColumnValues<T> = { [K in keyof T]?: T[K] | (() => string) };

/**
 * TypeORM's deep-partial type rejects JSON columns typed with `unknown` inside; the values are
 * right, the type is too strict.
 */
function values<T extends ObjectLiteral>(columns: ColumnValues<T>): QueryDeepPartialEntity<T> {
  return columns as unknown as QueryDeepPartialEntity<T>;
}

function toDate(iso: string | null | undefined): Date | null {
  return iso === null || iso === undefined ? null : new Date(iso);
}

function toIso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  // SQLite keeps `YYYY-MM-DD HH:MM:SS.SSS` in UTC.
  const normalized = /^\d{4}-\d\d-\d\d \d\d:\d\d/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  return new Date(normalized).toISOString();
}

function fromJson<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

function taskFromRow(row: TaskRow): TaskRecord {
  return {
    id: row.id,
    type: row.type as TaskType,
    description: row.description,
    state: row.state as TaskState,
    plan: fromJson(row.plan),
    workerId: row.worker_id,
    leaseUntil: toIso(row.lease_until),
    attempt: Number(row.attempt),
    deployment: row.deployment === null ? null : fromJson(row.deployment),
    control: row.control === null ? null : fromJson(row.control),
    scheduledAt: toIso(row.scheduled_at),
    createdAt: toIso(row.created_at)!,
    queuedAt: toIso(row.queued_at),
    claimedAt: toIso(row.claimed_at),
    startedAt: toIso(row.started_at),
    completedAt: toIso(row.completed_at),
    failure: row.failure,
  };
}

/** The columns a patch sets. A patch that names `state`, even the same one, stamps `state_changed_at`. */
function patchToColumns(patch: TaskPatch, now: Date): Partial<TaskRow> {
  const columns: Partial<TaskRow> = {};
  if (patch.description !== undefined) columns.description = patch.description;
  if (patch.state !== undefined) {
    columns.state = patch.state;
    columns.state_changed_at = now;
  }
  if (patch.plan !== undefined) columns.plan = patch.plan;
  if (patch.workerId !== undefined) columns.worker_id = patch.workerId;
  if (patch.leaseUntil !== undefined) columns.lease_until = toDate(patch.leaseUntil);
  if (patch.attempt !== undefined) columns.attempt = patch.attempt;
  if (patch.deployment !== undefined) {
    columns.deployment = patch.deployment;
    columns.application = patch.deployment?.application ?? null;
    columns.environment = patch.deployment?.environment ?? null;
  }
  if (patch.control !== undefined) columns.control = patch.control;
  if (patch.scheduledAt !== undefined) columns.scheduled_at = toDate(patch.scheduledAt);
  if (patch.queuedAt !== undefined) columns.queued_at = toDate(patch.queuedAt);
  if (patch.claimedAt !== undefined) columns.claimed_at = toDate(patch.claimedAt);
  if (patch.startedAt !== undefined) columns.started_at = toDate(patch.startedAt);
  if (patch.completedAt !== undefined) columns.completed_at = toDate(patch.completedAt);
  if (patch.failure !== undefined) columns.failure = patch.failure;
  return columns;
}

function parseBound(value: string | undefined, field: 'from' | 'to'): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new ValidationError(`${field} is not a time`, [{ field, message: `must be an ISO time (got "${value}")` }]);
  }
  return date;
}

/** Tasks, with every state change a single conditional UPDATE. */
export class TypeOrmTaskStore implements TaskStore {
  constructor(
    private readonly db: Database,
    private readonly now: Clock,
  ) {}

  private get entity() {
    return this.db.entities.task;
  }

  insert(task: TaskRecord): Promise<void> {
    return this.db.run(`inserting task ${task.id}`, (m) => this.insertRow(m, task));
  }

  insertExclusive(task: TaskRecord & { deployment: NonNullable<TaskRecord['deployment']> }): Promise<TaskRecord | null> {
    const { application, environment } = task.deployment;
    return this.db.transaction(`inserting deployment task ${task.id}`, async (m) => {
      // PostgreSQL: masters may insert concurrently; a transaction-scoped advisory lock per
      // (application, environment) makes the check and the insert one step. SQLite runs every
      // transaction alone already.
      if (this.db.dialect === 'postgres') {
        await m.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [DEPLOYMENT_LOCK, `${application}/${environment}`]);
      }
      const blocking = await m.findOne(this.entity, {
        where: { type: 'DEPLOYMENT', application, environment, state: Not(In([...FINAL_STATES])) },
        order: { created_at: 'ASC', id: 'ASC' },
      });
      if (blocking) return taskFromRow(blocking);
      await this.insertRow(m, task);
      return null;
    });
  }

  private async insertRow(m: EntityManager, task: TaskRecord): Promise<void> {
    const row: TaskRow = {
      id: task.id,
      type: task.type,
      description: task.description,
      state: task.state,
      plan: task.plan,
      worker_id: task.workerId,
      lease_until: toDate(task.leaseUntil),
      attempt: task.attempt,
      deployment: task.deployment,
      control: task.control,
      application: task.deployment?.application ?? null,
      environment: task.deployment?.environment ?? null,
      scheduled_at: toDate(task.scheduledAt),
      created_at: new Date(task.createdAt),
      queued_at: toDate(task.queuedAt),
      claimed_at: toDate(task.claimedAt),
      started_at: toDate(task.startedAt),
      completed_at: toDate(task.completedAt),
      state_changed_at: this.now(),
      failure: task.failure,
    };
    await m.insert(this.entity, values<TaskRow>(row));
  }

  get(id: string): Promise<TaskRecord | null> {
    return this.db.run(`reading task ${id}`, async (m) => {
      const row = await m.findOneBy(this.entity, { id });
      return row ? taskFromRow(row) : null;
    });
  }

  list(filter: TaskFilter = {}): Promise<TaskRecord[]> {
    return this.db.run('listing tasks', async (m) => {
      const rows = await m.find(this.entity, {
        where: {
          state: filter.state === undefined ? Not(In([...FINAL_STATES])) : filter.state,
          ...(filter.type === undefined ? {} : { type: filter.type }),
          ...(filter.workerId === undefined ? {} : { worker_id: filter.workerId }),
          ...(filter.application === undefined ? {} : { application: filter.application }),
          ...(filter.environment === undefined ? {} : { environment: filter.environment }),
        },
        order: { created_at: 'ASC', id: 'ASC' },
      });
      // A state filter naming a final state still answers only current tasks.
      return rows.filter((row) => !FINAL_STATES.includes(row.state as TaskState)).map(taskFromRow);
    });
  }

  async listArchived(filter: ArchiveFilter = {}): Promise<TaskRecord[]> {
    const from = parseBound(filter.from, 'from');
    const to = parseBound(filter.to, 'to');
    return this.db.run('listing archived tasks', async (m) => {
      // A task cancelled without a completion time counts from its last state change.
      const completed = 'COALESCE(t.completed_at, t.state_changed_at)';
      const query = m
        .createQueryBuilder(this.entity, 't')
        .where('t.state IN (:...final)', { final: [...FINAL_STATES] });
      if (from) query.andWhere(`${completed} >= :from`, { from });
      if (to) query.andWhere(`${completed} <= :to`, { to });
      if (filter.application !== undefined) query.andWhere('t.application = :application', { application: filter.application });
      if (filter.environment !== undefined) query.andWhere('t.environment = :environment', { environment: filter.environment });
      const rows = await query.orderBy(completed, 'DESC').addOrderBy('t.id', 'DESC').getMany();
      return rows.map(taskFromRow);
    });
  }

  compareAndSet(id: string, expected: TaskState, patch: TaskPatch, owner?: string): Promise<TaskRecord | null> {
    return this.db.run(`updating task ${id}`, async (m) => {
      const columns = patchToColumns(patch, this.now());
      // An empty patch still answers whether the task is in the expected state.
      const set = Object.keys(columns).length > 0 ? columns : { state: expected };
      const condition = owner === undefined ? 'id = :id AND state = :expected' : 'id = :id AND state = :expected AND worker_id = :owner';
      const row = await this.conditionalUpdate(m, set, condition, { id, expected, owner });
      return row ? taskFromRow(row) : null;
    });
  }

  adopt(id: string, from: { workerId: string; leaseUntil: string }, workerId: string, leaseUntil: Date): Promise<TaskRecord | null> {
    return this.db.run(`adopting task ${id}`, async (m) => {
      const row = await this.conditionalUpdate(
        m,
        { worker_id: workerId, lease_until: leaseUntil },
        `id = :id AND worker_id = :previous AND lease_until = :previousLease AND state IN (:...active)`,
        { id, previous: from.workerId, previousLease: new Date(from.leaseUntil), active: [...ACTIVE_STATES] },
      );
      return row ? taskFromRow(row) : null;
    });
  }

  leaseExpiredBefore(before: Date): Promise<TaskRecord[]> {
    return this.db.run('listing tasks whose owner stopped renewing its lease', async (m) => {
      const rows = await m
        .createQueryBuilder()
        .select()
        .from(this.entity, 't')
        .where('t.state IN (:...active) AND t.lease_until < :before', { active: [...ACTIVE_STATES], before })
        .orderBy('t.lease_until', 'ASC')
        .getRawMany<TaskRow>();
      return rows.map(taskFromRow);
    });
  }

  claim(id: string, workerId: string, leaseUntil: Date): Promise<TaskRecord | null> {
    return this.db.run(`claiming task ${id}`, async (m) => {
      const now = this.now();
      const row = await this.conditionalUpdate(
        m,
        {
          state: 'EXECUTING',
          worker_id: workerId,
          lease_until: leaseUntil,
          started_at: () => 'COALESCE(started_at, :now)',
          claimed_at: now,
          state_changed_at: now,
        },
        "id = :id AND state = 'QUEUED'",
        { id, now },
      );
      return row ? taskFromRow(row) : null;
    });
  }

  savePlan(id: string, workerId: string, plan: Plan): Promise<boolean> {
    return this.db.run(`saving the plan of task ${id}`, async (m) => {
      const result = await m
        .createQueryBuilder()
        .update(this.entity)
        .set(values<TaskRow>({ plan }))
        .where('id = :id AND worker_id = :workerId', { id, workerId })
        .execute();
      return (result.affected ?? 0) > 0;
    });
  }

  renewLeases(workerId: string, ids: string[], leaseUntil: Date): Promise<string[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.run(`renewing the leases of worker ${workerId}`, async (m) => {
      await m
        .createQueryBuilder()
        .update(this.entity)
        .set({ lease_until: leaseUntil })
        .where('worker_id = :workerId AND id IN (:...ids)', { workerId, ids })
        .execute();
      const owned = await m
        .createQueryBuilder()
        .select('t.id', 'id')
        .from(this.entity, 't')
        .where('t.worker_id = :workerId AND t.id IN (:...ids)', { workerId, ids })
        .getRawMany<{ id: string }>();
      return owned.map((r) => r.id);
    });
  }

  queuedBefore(before: Date): Promise<TaskRecord[]> {
    return this.db.run('listing stale queued tasks', async (m) => {
      const rows = await m
        .createQueryBuilder(this.entity, 't')
        .where("t.state = 'QUEUED' AND t.state_changed_at < :before", { before })
        .orderBy('t.state_changed_at', 'ASC')
        .getMany();
      return rows.map(taskFromRow);
    });
  }

  scheduledDue(now: Date): Promise<TaskRecord[]> {
    return this.db.run('listing due scheduled tasks', async (m) => {
      const rows = await m
        .createQueryBuilder(this.entity, 't')
        .where("t.state = 'SCHEDULED' AND t.scheduled_at <= :now", { now })
        .orderBy('t.scheduled_at', 'ASC')
        .getMany();
      return rows.map(taskFromRow);
    });
  }

  remove(id: string): Promise<boolean> {
    return this.db.transaction(`removing task ${id}`, async (m) => {
      await m.delete(this.db.entities.stepLog, { task_id: id });
      const result = await m.delete(this.entity, { id });
      return (result.affected ?? 0) > 0;
    });
  }

  activeOwnedBy(workerId: string): Promise<TaskRecord[]> {
    return this.db.run(`listing the tasks of worker ${workerId}`, async (m) => {
      const rows = await m.find(this.entity, {
        where: { worker_id: workerId, state: In([...ACTIVE_STATES]) },
        order: { created_at: 'ASC', id: 'ASC' },
      });
      return rows.map(taskFromRow);
    });
  }

  async archive(
    id: string,
    change: { deployed?: DeployedApplication; undeploy?: { environment: string; application: string } },
    completedAt: Date,
  ): Promise<TaskRecord | null> {
    try {
      return await this.db.transaction(`archiving task ${id}`, async (m) => {
        const row = await this.conditionalUpdate(
          m,
          { state: 'DONE', completed_at: completedAt, state_changed_at: this.now() },
          "id = :id AND state = 'EXECUTED'",
          { id },
        );
        if (!row) throw new NothingToArchive();
        const deployedEntity = this.db.entities.deployed;
        if (change.deployed) {
          const deployed: DeployedApplicationRow = {
            environment: change.deployed.environment,
            application: change.deployed.application,
            version: change.deployed.version,
            deployeds: change.deployed.deployeds,
            updated_at: completedAt,
          };
          await m.upsert(deployedEntity, values(deployed), ['environment', 'application']);
        }
        if (change.undeploy) {
          await m.delete(deployedEntity, {
            environment: change.undeploy.environment,
            application: change.undeploy.application,
          });
        }
        return taskFromRow(row);
      });
    } catch (error) {
      if (error instanceof NothingToArchive) return null;
      throw error;
    }
  }

  /**
   * One `UPDATE tasks SET … WHERE <condition>`: answers the updated row, or null when no row
   * matched. PostgreSQL answers the row with RETURNING; on SQLite, whose operations run one at a
   * time on its single connection, the row read right after is the one just written.
   */
  private async conditionalUpdate(
    m: EntityManager,
    set: ColumnValues<TaskRow>,
    condition: string,
    parameters: Record<string, unknown>,
  ): Promise<TaskRow | null> {
    const update = m.createQueryBuilder().update(this.entity).set(values(set)).where(condition, parameters);
    if (this.db.dialect === 'postgres') {
      const result = await update.returning('*').execute();
      const rows = (result.raw ?? []) as TaskRow[];
      return rows[0] ?? null;
    }
    const result = await update.execute();
    if ((result.affected ?? 0) === 0) return null;
    return m.findOneBy(this.entity, { id: parameters['id'] as string });
  }
}

/** First key of the advisory lock taken while a deployment task is inserted ("DEPL"). */
const DEPLOYMENT_LOCK = 0x4445504c;

/** Rolls the archive transaction back: the task was not EXECUTED any more. */
class NothingToArchive extends Error {}

/** Step logs as ordered, append-only chunks. */
export class TypeOrmStepLogStore implements StepLogStore {
  constructor(private readonly db: Database) {}

  append(taskId: string, path: string, text: string): Promise<void> {
    if (text === '') return Promise.resolve();
    return this.db.run(`appending to the log of task ${taskId} step ${path}`, async (m) => {
      await m.insert(this.db.entities.stepLog, { task_id: taskId, path, text });
    });
  }

  read(taskId: string, path: string): Promise<string> {
    return this.db.run(`reading the log of task ${taskId} step ${path}`, async (m) => {
      const chunks = await m.find(this.db.entities.stepLog, {
        select: { text: true, seq: true },
        where: { task_id: taskId, path },
        order: { seq: 'ASC' },
      });
      return chunks.map((chunk) => chunk.text).join('');
    });
  }

  removeTask(taskId: string): Promise<void> {
    return this.db.run(`removing the logs of task ${taskId}`, async (m) => {
      await m.delete(this.db.entities.stepLog, { task_id: taskId });
    });
  }
}

export class TypeOrmHostStore implements HostStore {
  constructor(private readonly db: Database) {}

  put(host: Host): Promise<void> {
    return this.db.run(`saving host ${host.name}`, async (m) => {
      await m.upsert(
        this.db.entities.host,
        values<HostRow>({ name: host.name, type: host.type, tags: host.tags, properties: host.properties }),
        ['name'],
      );
    });
  }

  get(name: string): Promise<Host | null> {
    return this.db.run(`reading host ${name}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.host, { name });
      return row ? hostFromRow(row) : null;
    });
  }

  list(): Promise<Host[]> {
    return this.db.run('listing hosts', async (m) => {
      const rows = await m.find(this.db.entities.host, { order: { name: 'ASC' } });
      return rows.map(hostFromRow);
    });
  }

  delete(name: string): Promise<boolean> {
    return this.db.run(`deleting host ${name}`, async (m) => {
      const result = await m.delete(this.db.entities.host, { name });
      return (result.affected ?? 0) > 0;
    });
  }
}

function hostFromRow(row: HostRow): Host {
  return { name: row.name, type: row.type, tags: fromJson(row.tags), properties: fromJson(row.properties) };
}

export class TypeOrmEnvironmentStore implements EnvironmentStore {
  constructor(private readonly db: Database) {}

  put(environment: Environment): Promise<void> {
    return this.db.run(`saving environment ${environment.name}`, async (m) => {
      await m.upsert(
        this.db.entities.environment,
        values<EnvironmentRow>({ name: environment.name, hosts: environment.hosts, dictionary: environment.dictionary }),
        ['name'],
      );
    });
  }

  get(name: string): Promise<Environment | null> {
    return this.db.run(`reading environment ${name}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.environment, { name });
      return row ? { name: row.name, hosts: fromJson(row.hosts), dictionary: fromJson(row.dictionary) } : null;
    });
  }

  list(): Promise<Environment[]> {
    return this.db.run('listing environments', async (m) => {
      const rows = await m.find(this.db.entities.environment, { order: { name: 'ASC' } });
      return rows.map((row) => ({ name: row.name, hosts: fromJson(row.hosts), dictionary: fromJson(row.dictionary) }));
    });
  }

  delete(name: string): Promise<boolean> {
    return this.db.run(`deleting environment ${name}`, async (m) => {
      const result = await m.delete(this.db.entities.environment, { name });
      return (result.affected ?? 0) > 0;
    });
  }
}

/** Packages in import order: the database numbers each (application, version) at its first import. */
export class TypeOrmPackageStore implements PackageStore {
  constructor(
    private readonly db: Database,
    private readonly now: Clock,
  ) {}

  put(pkg: PackageVersion): Promise<void> {
    return this.db.run(`importing ${pkg.application} ${pkg.version}`, async (m) => {
      await m.upsert(
        this.db.entities.package,
        values<PackageRow>({
          application: pkg.application,
          version: pkg.version,
          deployables: pkg.deployables,
          imported_at: pkg.importedAt ? new Date(pkg.importedAt) : this.now(),
        }),
        ['application', 'version'],
      );
    });
  }

  async add(pkg: PackageVersion): Promise<boolean> {
    try {
      await this.db.run(`importing ${pkg.application} ${pkg.version}`, async (m) => {
        await m.insert(
          this.db.entities.package,
          values<PackageRow>({
            application: pkg.application,
            version: pkg.version,
            deployables: pkg.deployables,
            imported_at: pkg.importedAt ? new Date(pkg.importedAt) : this.now(),
          }),
        );
      });
      return true;
    } catch (error) {
      // The primary key (application, version) clashed: that version was imported before.
      if (error instanceof ConflictError) return false;
      throw error;
    }
  }

  get(application: string, version: string): Promise<PackageVersion | null> {
    return this.db.run(`reading ${application} ${version}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.package, { application, version });
      return row
        ? {
            application: row.application,
            version: row.version,
            deployables: fromJson(row.deployables),
            importedAt: toIso(row.imported_at)!,
          }
        : null;
    });
  }

  listApplications(): Promise<{ name: string; versions: string[] }[]> {
    return this.db.run('listing applications', async (m) => {
      const rows = await this.versionsInOrder(m);
      const applications = new Map<string, string[]>();
      for (const row of rows) {
        const versions = applications.get(row.application) ?? [];
        versions.push(row.version);
        applications.set(row.application, versions);
      }
      return [...applications].map(([name, versions]) => ({ name, versions }));
    });
  }

  listVersions(application: string): Promise<string[] | null> {
    return this.db.run(`listing the versions of ${application}`, async (m) => {
      const rows = await this.versionsInOrder(m, application);
      return rows.length === 0 ? null : rows.map((row) => row.version);
    });
  }

  private versionsInOrder(m: EntityManager, application?: string): Promise<{ application: string; version: string }[]> {
    const query = m
      .createQueryBuilder(this.db.entities.package, 'p')
      .select(['p.application', 'p.version'])
      .orderBy('p.seq', 'ASC');
    if (application !== undefined) query.where('p.application = :application', { application });
    return query.getMany();
  }
}

export class TypeOrmDeployedStore implements DeployedStore {
  constructor(private readonly db: Database) {}

  get(environment: string, application: string): Promise<DeployedApplication | null> {
    return this.db.run(`reading what ${environment} holds of ${application}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.deployed, { environment, application });
      return row ? deployedFromRow(row) : null;
    });
  }

  listForEnvironment(environment: string): Promise<DeployedApplication[]> {
    return this.db.run(`listing what ${environment} holds`, async (m) => {
      const rows = await m.find(this.db.entities.deployed, { where: { environment }, order: { application: 'ASC' } });
      return rows.map(deployedFromRow);
    });
  }
}

function deployedFromRow(row: DeployedApplicationRow): DeployedApplication {
  return {
    environment: row.environment,
    application: row.application,
    version: row.version,
    deployeds: fromJson(row.deployeds),
    updatedAt: toIso(row.updated_at)!,
  };
}


export class TypeOrmWorkerStore implements WorkerStore {
  constructor(private readonly db: Database) {}

  put(worker: WorkerRecord): Promise<void> {
    return this.db.run(`saving worker ${worker.id}`, async (m) => {
      await m.upsert(
        this.db.entities.worker,
        values<WorkerRow>({
          id: worker.id,
          name: worker.name,
          address: worker.address,
          config_hash: worker.configHash,
          capacity: worker.capacity,
          registered_at: new Date(worker.registeredAt),
          last_seen: new Date(worker.lastSeen),
        }),
        ['id'],
      );
    });
  }

  get(id: string): Promise<WorkerRecord | null> {
    return this.db.run(`reading worker ${id}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.worker, { id });
      return row ? workerFromRow(row) : null;
    });
  }

  list(): Promise<WorkerRecord[]> {
    return this.db.run('listing workers', async (m) => {
      const rows = await m.find(this.db.entities.worker, { order: { registered_at: 'ASC' } });
      return rows.map(workerFromRow);
    });
  }

  delete(id: string): Promise<boolean> {
    return this.db.run(`deleting worker ${id}`, async (m) => {
      const result = await m.delete(this.db.entities.worker, { id });
      return (result.affected ?? 0) > 0;
    });
  }
}

function workerFromRow(row: WorkerRow): WorkerRecord {
  return {
    id: row.id,
    name: row.name,
    address: row.address,
    configHash: row.config_hash,
    capacity: Number(row.capacity),
    registeredAt: toIso(row.registered_at)!,
    lastSeen: toIso(row.last_seen)!,
  };
}

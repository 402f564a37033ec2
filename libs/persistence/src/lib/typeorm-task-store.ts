import { EntityManager, In, Not } from 'typeorm';
import { DeployedApplication } from '@shipdeck/domain';
import { ACTIVE_STATES, FINAL_STATES, Plan, TaskPatch, TaskRecord, TaskState } from '@shipdeck/tasks';
import { AUDIT_COLUMNS, auditValues } from './auth/typeorm-auth-store';
import type { AuthNewAuditEntry } from './auth/auth-records';
import { Database } from './database';
import { DeployedApplicationRow, TaskRow } from './entities';
import { RawSql } from './raw-sql';
import { Clock, ColumnValues, parseBound, patchToColumns, taskFromRow, toDate, values } from './row-mapping';
import { ArchiveFilter, TaskFilter, TaskStateOf, TaskStore } from './stores';

/** Tasks, with every state change a single conditional UPDATE. */
export class TypeOrmTaskStore implements TaskStore {
  /** The hot statements (read, claim, state change, plan save, states) are written by hand. */
  private readonly sql: RawSql;

  constructor(
    private readonly db: Database,
    private readonly now: Clock,
  ) {
    this.sql = new RawSql(db.dialect);
  }

  private get entity() {
    return this.db.entities.task;
  }

  insert(task: TaskRecord, audit?: AuthNewAuditEntry): Promise<void> {
    const what = `inserting task ${task.id}`;
    // With its audit entry: one statement on PostgreSQL (see insertRow), one transaction on SQLite.
    if (audit === undefined || this.db.dialect === 'postgres') return this.db.run(what, (m) => this.insertRow(m, task, audit));
    return this.db.transaction(what, (m) => this.insertRow(m, task, audit));
  }

  insertExclusive(
    task: TaskRecord & { deployment: NonNullable<TaskRecord['deployment']> },
    audit?: AuthNewAuditEntry,
  ): Promise<TaskRecord | null> {
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
      await this.insertRow(m, task, audit);
      return null;
    });
  }

  /**
   * The task's INSERT; with `audit`, the audit entry of its creation too: on PostgreSQL in the same
   * statement (both rows or neither, one round trip), on SQLite as a second INSERT (`m` is then a
   * transaction's).
   */
  private async insertRow(m: EntityManager, task: TaskRecord, audit?: AuthNewAuditEntry): Promise<void> {
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
    // Hand-written: every task is inserted once, and TypeORM's insert building cost more than the INSERT.
    const names = Object.keys(row) as (keyof TaskRow)[];
    const insertTask = `INSERT INTO tasks (${names.join(', ')}) VALUES (${RawSql.placeholders(names.length)})`;
    const taskValues = names.map((name) => this.columnValue(name, row[name]));
    if (audit === undefined) {
      await this.sql.rows(m, insertTask, taskValues);
      return;
    }
    const auditRow = auditValues(this.sql, audit);
    const insertAudit = (before: number) => `INSERT INTO audit_entries (${AUDIT_COLUMNS}) VALUES (${RawSql.placeholders(auditRow.length, before)})`;
    if (this.db.dialect === 'postgres') {
      await this.sql.rows(m, `WITH task AS (${insertTask}) ${insertAudit(names.length)}`, [...taskValues, ...auditRow]);
      return;
    }
    await this.sql.rows(m, insertTask, taskValues);
    await this.sql.rows(m, insertAudit(0), auditRow);
  }

  get(id: string): Promise<TaskRecord | null> {
    return this.db.run(`reading task ${id}`, async (m) => {
      const [row] = await this.sql.rows<TaskRow>(m, 'SELECT * FROM tasks WHERE id = $1', [id]);
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
      const set: Partial<TaskRow> = Object.keys(columns).length > 0 ? columns : { state: expected };
      const names = Object.keys(set) as (keyof TaskRow)[];
      const assignments = names.map((name, i) => `${name} = $${i + 1}`).join(', ');
      const n = names.length;
      const condition = `id = $${n + 1} AND state = $${n + 2}` + (owner === undefined ? '' : ` AND worker_id = $${n + 3}`);
      const parameters = [...names.map((name) => this.columnValue(name, set[name])), id, expected, ...(owner === undefined ? [] : [owner])];
      const [row] = await this.sql.rows<TaskRow>(m, `UPDATE tasks SET ${assignments} WHERE ${condition} RETURNING *`, parameters);
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
      const now = this.sql.time(this.now());
      const [row] = await this.sql.rows<TaskRow>(m, CLAIM, [id, workerId, this.sql.time(leaseUntil), now]);
      return row ? taskFromRow(row) : null;
    });
  }

  savePlan(id: string, workerId: string, plan: Plan): Promise<TaskState | null> {
    return this.db.run(`saving the plan of task ${id}`, async (m) => {
      const [saved] = await this.sql.rows<Pick<TaskRow, 'state'>>(
        m,
        'UPDATE tasks SET plan = $1 WHERE id = $2 AND worker_id = $3 RETURNING state',
        [this.sql.json(plan), id, workerId],
      );
      return saved ? (saved.state as TaskState) : null;
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
    return this.listWhere('listing stale queued tasks', "t.state = 'QUEUED' AND t.state_changed_at < :at", before, 't.state_changed_at');
  }

  countByStateAndType(): Promise<{ state: TaskState; type: string; count: number }[]> {
    return this.db.run('counting tasks', async (m) => {
      const rows = await m
        .createQueryBuilder(this.entity, 't')
        .select('t.state', 'state')
        .addSelect('t.type', 'type')
        .addSelect('COUNT(*)', 'count')
        .groupBy('t.state')
        .addGroupBy('t.type')
        .getRawMany<{ state: string; type: string; count: string | number }>();
      // PostgreSQL answers COUNT(*) as a bigint string, SQLite as a number.
      return rows.map((row) => ({ state: row.state as TaskState, type: row.type, count: Number(row.count) }));
    });
  }

  scheduledDue(now: Date): Promise<TaskRecord[]> {
    return this.listWhere('listing due scheduled tasks', "t.state = 'SCHEDULED' AND t.scheduled_at <= :at", now, 't.scheduled_at');
  }

  /** Tasks matching a condition on one time `:at`, in ascending order of `orderBy`. */
  private listWhere(what: string, condition: string, at: Date, orderBy: string): Promise<TaskRecord[]> {
    return this.db.run(what, async (m) => {
      const rows = await m.createQueryBuilder(this.entity, 't').where(condition, { at }).orderBy(orderBy, 'ASC').getMany();
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

  statesOf(ids: string[]): Promise<TaskStateOf[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.db.run(`reading the states of ${ids.length} task(s)`, async (m) => {
      const rows = await this.sql.rows<Pick<TaskRow, 'id' | 'state' | 'worker_id'>>(
        m,
        `SELECT id, state, worker_id FROM tasks WHERE id IN (${RawSql.placeholders(ids.length)})`,
        ids,
      );
      return rows.map((row) => ({ id: row.id, state: row.state as TaskState, workerId: row.worker_id }));
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
            updated_at: completedAt.toISOString(),
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

  /** A column's value as a hand-written statement binds it. */
  private columnValue(name: keyof TaskRow, value: unknown): unknown {
    if (JSON_COLUMNS.has(name)) return this.sql.json(value);
    if (TIME_COLUMNS.has(name)) return this.sql.time(value as Date | null);
    return value;
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

/** The claim: QUEUED → EXECUTING, owned by one worker; $1 id, $2 worker, $3 lease end, $4 now. */
const CLAIM =
  "UPDATE tasks SET state = 'EXECUTING', worker_id = $2, lease_until = $3, started_at = COALESCE(started_at, $4), " +
  "claimed_at = $4, state_changed_at = $4 WHERE id = $1 AND state = 'QUEUED' RETURNING *";

const JSON_COLUMNS: ReadonlySet<keyof TaskRow> = new Set<keyof TaskRow>(['plan', 'deployment', 'control']);
const TIME_COLUMNS: ReadonlySet<keyof TaskRow> = new Set<keyof TaskRow>([
  'lease_until',
  'scheduled_at',
  'created_at',
  'queued_at',
  'claimed_at',
  'started_at',
  'completed_at',
  'state_changed_at',
]);

/** First key of the advisory lock taken while a deployment task is inserted ("DEPL"). */
const DEPLOYMENT_LOCK = 0x4445504c;

/** Rolls the archive transaction back: the task was not EXECUTED any more. */
class NothingToArchive extends Error {}
import { EntitySchema } from 'typeorm';
import { Deployable, Deployed } from '@shipdeck/domain';
import { isoTime } from './row-mapping';
import { ControlInfo, DeploymentInfo, Plan } from '@shipdeck/tasks';

/** The SQL dialects Shipdeck stores data in. */
export type Dialect = 'postgres' | 'sqlite';

/*
 * Row shapes: property names are the column names, so that rows read by TypeORM and rows
 * answered by `RETURNING *` have the same shape. Task times are Dates here and ISO strings in the
 * domain records, converted by the task store (raw `RETURNING *` rows bypass TypeORM's
 * transformers); the other rows are only read through entities, so a column transformer makes
 * their times ISO strings already.
 */

/** A row of `tasks`. `application` and `environment` repeat the deployment's, for archive queries. */
export interface TaskRow {
  id: string;
  type: string;
  description: string;
  state: string;
  plan: Plan;
  worker_id: string | null;
  lease_until: Date | null;
  attempt: number;
  deployment: DeploymentInfo | null;
  control: ControlInfo | null;
  application: string | null;
  environment: string | null;
  scheduled_at: Date | null;
  created_at: Date;
  queued_at: Date | null;
  claimed_at: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  /** When `state` was last set; the reconciler finds stale QUEUED tasks by it. */
  state_changed_at: Date;
  failure: string | null;
}

/** One appended chunk of a step's log; `seq` orders the chunks. */
export interface StepLogRow {
  seq: number;
  task_id: string;
  path: string;
  text: string;
}

export interface HostRow {
  name: string;
  type: string;
  tags: string[];
  properties: Record<string, unknown>;
}

export interface EnvironmentRow {
  name: string;
  hosts: string[];
  dictionary: Record<string, string>;
  /** Secret entries: key → sealed value (ciphertext). */
  secrets: Record<string, string>;
}

/** `seq` is assigned by the database at first import and keeps the import order. */
export interface PackageRow {
  application: string;
  version: string;
  deployables: Deployable[];
  /** ISO time (column transformer). */
  imported_at: string;
  seq?: number;
}

export interface WorkerRow {
  id: string;
  name: string;
  address: string;
  config_hash: string;
  capacity: number;
  /** ISO time (column transformer). */
  registered_at: string;
  /** ISO time (column transformer). */
  last_seen: string;
}

/** With mutual TLS, the certificate subject a worker id belongs to (bound at its first registration). */
export interface WorkerCertificateRow {
  worker_id: string;
  subject: string;
  /** ISO time (column transformer). */
  bound_at: string;
}

export interface DeployedApplicationRow {
  environment: string;
  application: string;
  version: string;
  deployeds: Deployed[];
  /** ISO time (column transformer). */
  updated_at: string;
}

/** The entity schemas of one data source. */
export interface Entities {
  task: EntitySchema<TaskRow>;
  stepLog: EntitySchema<StepLogRow>;
  host: EntitySchema<HostRow>;
  environment: EntitySchema<EnvironmentRow>;
  package: EntitySchema<PackageRow>;
  deployed: EntitySchema<DeployedApplicationRow>;
  worker: EntitySchema<WorkerRow>;
  workerCertificate: EntitySchema<WorkerCertificateRow>;
}

/**
 * Entity schemas (not decorators: the runtime bundle is built by esbuild, which cannot emit
 * decorator metadata). The tables themselves are created by the migrations; the time and JSON
 * types differ between dialects, and they drive how TypeORM converts values.
 */
export function createEntities(dialect: Dialect): Entities {
  const time = dialect === 'postgres' ? 'timestamptz' : 'datetime';
  // SQLite: plain JSON text (TypeORM's `jsonb` there means SQLite's binary JSONB blobs).
  const json = dialect === 'postgres' ? 'jsonb' : 'simple-json';
  return {
    task: new EntitySchema<TaskRow>({
      name: 'Task',
      tableName: 'tasks',
      columns: {
        id: { type: 'text', primary: true },
        type: { type: 'text' },
        description: { type: 'text' },
        state: { type: 'text' },
        plan: { type: json },
        worker_id: { type: 'text', nullable: true },
        lease_until: { type: time, nullable: true },
        attempt: { type: 'integer' },
        deployment: { type: json, nullable: true },
        control: { type: json, nullable: true },
        application: { type: 'text', nullable: true },
        environment: { type: 'text', nullable: true },
        scheduled_at: { type: time, nullable: true },
        created_at: { type: time },
        queued_at: { type: time, nullable: true },
        claimed_at: { type: time, nullable: true },
        started_at: { type: time, nullable: true },
        completed_at: { type: time, nullable: true },
        state_changed_at: { type: time },
        failure: { type: 'text', nullable: true },
      },
    }),
    stepLog: new EntitySchema<StepLogRow>({
      name: 'StepLog',
      tableName: 'step_logs',
      columns: {
        seq: { type: 'integer', primary: true, generated: 'increment' },
        task_id: { type: 'text' },
        path: { type: 'text' },
        text: { type: 'text' },
      },
    }),
    host: new EntitySchema<HostRow>({
      name: 'Host',
      tableName: 'hosts',
      columns: {
        name: { type: 'text', primary: true },
        type: { type: 'text' },
        tags: { type: json },
        properties: { type: json },
      },
    }),
    environment: new EntitySchema<EnvironmentRow>({
      name: 'Environment',
      tableName: 'environments',
      columns: {
        name: { type: 'text', primary: true },
        hosts: { type: json },
        dictionary: { type: json },
        secrets: { type: json },
      },
    }),
    package: new EntitySchema<PackageRow>({
      name: 'Package',
      tableName: 'packages',
      columns: {
        application: { type: 'text', primary: true },
        version: { type: 'text', primary: true },
        deployables: { type: json },
        imported_at: { type: time, transformer: isoTime },
        seq: { type: 'integer', insert: false, update: false, select: false, nullable: true },
      },
    }),
    deployed: new EntitySchema<DeployedApplicationRow>({
      name: 'DeployedApplication',
      tableName: 'deployed_applications',
      columns: {
        environment: { type: 'text', primary: true },
        application: { type: 'text', primary: true },
        version: { type: 'text' },
        deployeds: { type: json },
        updated_at: { type: time, transformer: isoTime },
      },
    }),
    worker: new EntitySchema<WorkerRow>({
      name: 'Worker',
      tableName: 'workers',
      columns: {
        id: { type: 'text', primary: true },
        name: { type: 'text' },
        address: { type: 'text' },
        config_hash: { type: 'text' },
        capacity: { type: 'integer' },
        registered_at: { type: time, transformer: isoTime },
        last_seen: { type: time, transformer: isoTime },
      },
    }),
    workerCertificate: new EntitySchema<WorkerCertificateRow>({
      name: 'WorkerCertificate',
      tableName: 'worker_certificates',
      columns: {
        worker_id: { type: 'text', primary: true },
        subject: { type: 'text' },
        bound_at: { type: time, transformer: isoTime },
      },
    }),
  };
}

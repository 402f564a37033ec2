import { ObjectLiteral, ValueTransformer } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { ValidationError } from '@shipdeck/errors';
import { TaskPatch, TaskRecord, TaskState, TaskType } from '@shipdeck/tasks';
import type { TaskRow } from './entities';

/** The clock the stores stamp `state_changed_at` and similar times with. */
export type Clock = () => Date;

/*
 * Conversions at the boundary: records carry ISO strings, rows carry Dates. Rows may also come
 * raw from `RETURNING *` or SQLite text, so readers accept strings too.
 */

/** Column values to write; a function is raw SQL (e.g. `COALESCE(started_at, :now)`). */
export type ColumnValues<T> = { [K in keyof T]?: T[K] | (() => string) };

/**
 * TypeORM's deep-partial type rejects JSON columns typed with `unknown` inside; the values are
 * right, the type is too strict.
 */
export function values<T extends ObjectLiteral>(columns: ColumnValues<T>): QueryDeepPartialEntity<T> {
  return columns as unknown as QueryDeepPartialEntity<T>;
}

export function toDate(iso: string | null | undefined): Date | null {
  return iso === null || iso === undefined ? null : new Date(iso);
}

export function toIso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value.toISOString();
  // SQLite keeps `YYYY-MM-DD HH:MM:SS.SSS` in UTC.
  const normalized = /^\d{4}-\d\d-\d\d \d\d:\d\d/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  return new Date(normalized).toISOString();
}

export function fromJson<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

export function taskFromRow(row: TaskRow): TaskRecord {
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
export function patchToColumns(patch: TaskPatch, now: Date): Partial<TaskRow> {
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

export function parseBound(value: string | undefined, field: 'from' | 'to'): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    throw new ValidationError(`${field} is not a time`, [{ field, message: `must be an ISO time (got "${value}")` }]);
  }
  return date;
}
/**
 * Column transformer of time columns whose rows carry ISO strings: TypeORM converts on reads and
 * writes made through entities, so the stores need no hand mapping for them.
 */
export const isoTime: ValueTransformer = {
  to: (value: string | null | undefined) => toDate(value),
  from: (value: Date | string | null | undefined) => toIso(value),
};

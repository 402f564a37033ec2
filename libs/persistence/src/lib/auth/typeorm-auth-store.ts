import { EntityManager } from 'typeorm';
import type { Database } from '../database';
import { RawSql } from '../raw-sql';
import { AuthApiTokenRow, AuthEntities, AuthSessionRow, AuthUserRow, AuditEntryRow, createAuthEntities } from './auth-entities';
import {
  AuthApiTokenRecord,
  AuthAuditEntry,
  AuthAuditQuery,
  AuthNewAuditEntry,
  AuthRole,
  AuthSessionRecord,
  AuthUserPatch,
  AuthUserRecord,
} from './auth-records';

/** What the auth store needs of a {@link Database}: its dialect and its serialized, translated runs. */
export type AuthDatabase = Pick<Database, 'dialect' | 'run' | 'transaction'>;

/*
 * Conversions at the boundary: records carry ISO strings, rows Dates. SQLite may hand back its
 * `YYYY-MM-DD HH:MM:SS.SSS` text (UTC) where TypeORM does not hydrate, so readers accept strings.
 */
function iso(value: Date | string): string {
  if (value instanceof Date) return value.toISOString();
  const normalized = /^\d{4}-\d\d-\d\d \d\d:\d\d/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  return new Date(normalized).toISOString();
}

function isoOrNull(value: Date | string | null): string | null {
  return value === null ? null : iso(value);
}

function dateOrNull(value: string | null): Date | null {
  return value === null ? null : new Date(value);
}

function fromJson<T>(value: T | string): T {
  return typeof value === 'string' ? (JSON.parse(value) as T) : value;
}

function userFromRow(row: AuthUserRow): AuthUserRecord {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    role: row.role as AuthRole,
    environments: row.environments === null ? null : fromJson(row.environments),
    disabled: Boolean(row.disabled),
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function tokenFromRow(row: AuthApiTokenRow): AuthApiTokenRecord {
  return {
    id: row.id,
    userId: row.user_id,
    name: row.name,
    tokenHash: row.token_hash,
    createdAt: iso(row.created_at),
    expiresAt: isoOrNull(row.expires_at),
    lastUsedAt: isoOrNull(row.last_used_at),
    revokedAt: isoOrNull(row.revoked_at),
  };
}

function sessionFromRow(row: AuthSessionRow): AuthSessionRecord {
  return { idHash: row.id_hash, userId: row.user_id, createdAt: iso(row.created_at), expiresAt: iso(row.expires_at) };
}

function auditFromRow(row: AuditEntryRow): AuthAuditEntry {
  return {
    seq: Number(row.seq),
    at: iso(row.at),
    userId: row.user_id,
    username: row.username,
    tokenId: row.token_id,
    action: row.action,
    objectIds: fromJson(row.object_ids),
    outcome: row.outcome as AuthAuditEntry['outcome'],
    status: row.status === null ? null : Number(row.status),
    sourceIp: row.source_ip,
    detail: row.detail,
    taskId: row.task_id,
  };
}

/** The user's columns next to the token's in {@link TOKEN_WITH_USER}, prefixed `u_` (both have `id`, `created_at`). */
type UserColumns = { [K in keyof AuthUserRow as `u_${K}`]: AuthUserRow[K] | null };

/**
 * Every request presenting an API token runs this (hand-written, one round trip): the token and
 * its user, whose absence or `disabled` refuses the token as its revocation does.
 */
const TOKEN_WITH_USER =
  'SELECT t.*, u.id AS u_id, u.username AS u_username, u.password_hash AS u_password_hash, u.role AS u_role, ' +
  'u.environments AS u_environments, u.disabled AS u_disabled, u.created_at AS u_created_at, u.updated_at AS u_updated_at ' +
  'FROM auth_api_tokens t LEFT JOIN auth_users u ON u.id = t.user_id WHERE t.token_hash = $1';

/** The columns of an audit entry's INSERT, in the order of {@link auditValues}. */
export const AUDIT_COLUMNS = 'at, user_id, username, token_id, action, object_ids, outcome, status, source_ip, detail, task_id';

/** An audit entry's values as a hand-written INSERT into {@link AUDIT_COLUMNS} binds them. */
export function auditValues(sql: RawSql, entry: AuthNewAuditEntry): unknown[] {
  return [
    sql.time(new Date(entry.at)),
    entry.userId,
    entry.username,
    entry.tokenId,
    entry.action,
    sql.json(entry.objectIds),
    entry.outcome,
    entry.status,
    entry.sourceIp,
    entry.detail,
    entry.taskId,
  ];
}

/** Every state-changing request appends one audit entry: hand-written, no TypeORM insert building. */
const INSERT_AUDIT = `INSERT INTO audit_entries (${AUDIT_COLUMNS}) VALUES (${RawSql.placeholders(11)})`;

/**
 * Users, API tokens, sessions and audit entries in the Shipdeck database (SQLite or PostgreSQL):
 * the `AuthStore` of `@shipdeck/auth`. Its entities ({@link createAuthEntities}) and migration
 * ({@link AuthTables1764547200000}) must be registered with the data source.
 */
export class TypeormAuthStore {
  private readonly entities: AuthEntities;
  private readonly sql: RawSql;

  constructor(private readonly db: AuthDatabase) {
    // TypeORM finds an entity schema's metadata by its name, so these are the registered ones.
    this.entities = createAuthEntities(db.dialect);
    this.sql = new RawSql(db.dialect);
  }

  // ---- users ----

  insertUser(user: AuthUserRecord): Promise<void> {
    return this.db.run(`inserting user ${user.username}`, async (m) => {
      const row: AuthUserRow = {
        id: user.id,
        username: user.username,
        password_hash: user.passwordHash,
        role: user.role,
        environments: user.environments,
        disabled: user.disabled,
        created_at: new Date(user.createdAt),
        updated_at: new Date(user.updatedAt),
      };
      await m.insert(this.entities.user, row);
    });
  }

  getUser(id: string): Promise<AuthUserRecord | null> {
    return this.db.run(`reading user ${id}`, async (m) => {
      const row = await m.findOneBy(this.entities.user, { id });
      return row ? userFromRow(row) : null;
    });
  }

  getUserByName(username: string): Promise<AuthUserRecord | null> {
    return this.db.run(`reading user ${username}`, async (m) => {
      const row = await m.findOneBy(this.entities.user, { username });
      return row ? userFromRow(row) : null;
    });
  }

  listUsers(): Promise<AuthUserRecord[]> {
    return this.db.run('listing users', async (m) => {
      const rows = await m.find(this.entities.user);
      // Sorted here, by code point: database collations would order names differently per dialect.
      return rows.map(userFromRow).sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0));
    });
  }

  countUsers(): Promise<number> {
    return this.db.run('counting users', (m) => m.count(this.entities.user));
  }

  updateUser(id: string, patch: AuthUserPatch): Promise<AuthUserRecord | null> {
    return this.db.transaction(`updating user ${id}`, async (m) => {
      const set: Partial<AuthUserRow> = { updated_at: new Date(patch.updatedAt) };
      if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
      if (patch.role !== undefined) set.role = patch.role;
      if (patch.environments !== undefined) set.environments = patch.environments;
      if (patch.disabled !== undefined) set.disabled = patch.disabled;
      const result = await m.update(this.entities.user, { id }, set);
      if ((result.affected ?? 0) === 0) return null;
      const row = await m.findOneBy(this.entities.user, { id });
      return row ? userFromRow(row) : null;
    });
  }

  deleteUser(id: string): Promise<boolean> {
    // Explicit deletes rather than ON DELETE CASCADE alone: SQLite enforces foreign keys only
    // when the connection turns them on.
    return this.db.transaction(`deleting user ${id}`, async (m) => {
      await m.delete(this.entities.apiToken, { user_id: id });
      await m.delete(this.entities.session, { user_id: id });
      const result = await m.delete(this.entities.user, { id });
      return (result.affected ?? 0) > 0;
    });
  }

  // ---- API tokens ----

  insertToken(token: AuthApiTokenRecord): Promise<void> {
    return this.db.run(`inserting API token ${token.id}`, async (m) => {
      const row: AuthApiTokenRow = {
        id: token.id,
        user_id: token.userId,
        name: token.name,
        token_hash: token.tokenHash,
        created_at: new Date(token.createdAt),
        expires_at: dateOrNull(token.expiresAt),
        last_used_at: dateOrNull(token.lastUsedAt),
        revoked_at: dateOrNull(token.revokedAt),
      };
      await m.insert(this.entities.apiToken, row);
    });
  }

  getToken(id: string): Promise<AuthApiTokenRecord | null> {
    return this.db.run(`reading API token ${id}`, async (m) => {
      const row = await m.findOneBy(this.entities.apiToken, { id });
      return row ? tokenFromRow(row) : null;
    });
  }

  getTokenWithUser(tokenHash: string): Promise<{ token: AuthApiTokenRecord; user: AuthUserRecord | null } | null> {
    return this.db.run('looking up an API token', async (m) => {
      const [row] = await this.sql.rows<AuthApiTokenRow & Partial<UserColumns>>(m, TOKEN_WITH_USER, [tokenHash]);
      if (!row) return null;
      const user: AuthUserRow | null =
        row.u_id === undefined || row.u_id === null
          ? null
          : {
              id: row.u_id,
              username: row.u_username!,
              password_hash: row.u_password_hash!,
              role: row.u_role!,
              environments: row.u_environments ?? null,
              disabled: row.u_disabled!,
              created_at: row.u_created_at!,
              updated_at: row.u_updated_at!,
            };
      return { token: tokenFromRow(row), user: user ? userFromRow(user) : null };
    });
  }

  listTokens(userId?: string): Promise<AuthApiTokenRecord[]> {
    return this.db.run('listing API tokens', async (m) => {
      const rows = await m.find(this.entities.apiToken, {
        where: userId === undefined ? {} : { user_id: userId },
        order: { created_at: 'ASC', id: 'ASC' },
      });
      return rows.map(tokenFromRow);
    });
  }

  revokeToken(id: string, at: string): Promise<AuthApiTokenRecord | null> {
    return this.db.transaction(`revoking API token ${id}`, async (m) => {
      await m
        .createQueryBuilder()
        .update(this.entities.apiToken)
        .set({ revoked_at: new Date(at) })
        .where('id = :id AND revoked_at IS NULL', { id })
        .execute();
      const row = await m.findOneBy(this.entities.apiToken, { id });
      return row ? tokenFromRow(row) : null;
    });
  }

  recordTokenUse(id: string, at: string, unlessUsedSince: string): Promise<void> {
    return this.db.run(`recording the use of API token ${id}`, async (m) => {
      await m
        .createQueryBuilder()
        .update(this.entities.apiToken)
        .set({ last_used_at: new Date(at) })
        .where('id = :id AND (last_used_at IS NULL OR last_used_at < :since)', { id, since: new Date(unlessUsedSince) })
        .execute();
    });
  }

  // ---- sessions ----

  insertSession(session: AuthSessionRecord): Promise<void> {
    return this.db.run('inserting a session', async (m) => {
      const row: AuthSessionRow = {
        id_hash: session.idHash,
        user_id: session.userId,
        created_at: new Date(session.createdAt),
        expires_at: new Date(session.expiresAt),
      };
      await m.insert(this.entities.session, row);
    });
  }

  getSession(idHash: string): Promise<AuthSessionRecord | null> {
    return this.db.run('reading a session', async (m) => {
      const row = await m.findOneBy(this.entities.session, { id_hash: idHash });
      return row ? sessionFromRow(row) : null;
    });
  }

  deleteSession(idHash: string): Promise<boolean> {
    return this.db.run('deleting a session', async (m) => {
      const result = await m.delete(this.entities.session, { id_hash: idHash });
      return (result.affected ?? 0) > 0;
    });
  }

  deleteSessionsOfUser(userId: string): Promise<number> {
    return this.db.run(`deleting the sessions of user ${userId}`, async (m) => {
      const result = await m.delete(this.entities.session, { user_id: userId });
      return result.affected ?? 0;
    });
  }

  deleteExpiredSessions(now: string): Promise<number> {
    return this.db.run('deleting expired sessions', async (m) => {
      const result = await m
        .createQueryBuilder()
        .delete()
        .from(this.entities.session)
        .where('expires_at <= :now', { now: new Date(now) })
        .execute();
      return result.affected ?? 0;
    });
  }

  // ---- audit ----

  appendAudit(entry: AuthNewAuditEntry): Promise<void> {
    return this.db.run(`recording audit entry ${entry.action}`, async (m) => {
      await this.sql.rows(m, INSERT_AUDIT, auditValues(this.sql, entry));
    });
  }

  listAudit(query: AuthAuditQuery): Promise<AuthAuditEntry[]> {
    return this.db.run('listing audit entries', async (m) => {
      const rows = await auditQuery(m, this.entities, query).getMany();
      return rows.map(auditFromRow);
    });
  }
}

function auditQuery(m: EntityManager, entities: AuthEntities, query: AuthAuditQuery) {
  const select = m.createQueryBuilder(entities.audit, 'a').where('1 = 1');
  if (query.beforeSeq !== undefined) select.andWhere('a.seq < :before', { before: query.beforeSeq });
  if (query.username !== undefined) select.andWhere('a.username = :username', { username: query.username });
  if (query.action !== undefined) select.andWhere('a.action = :action', { action: query.action });
  if (query.outcome !== undefined) select.andWhere('a.outcome = :outcome', { outcome: query.outcome });
  if (query.from !== undefined) select.andWhere('a.at >= :from', { from: new Date(query.from) });
  if (query.to !== undefined) select.andWhere('a.at <= :to', { to: new Date(query.to) });
  if (query.taskId !== undefined) select.andWhere('a.task_id = :taskId', { taskId: query.taskId });
  return select.orderBy('a.seq', 'DESC').take(query.limit);
}

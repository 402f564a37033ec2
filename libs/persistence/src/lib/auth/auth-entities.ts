import { EntitySchema } from 'typeorm';
import type { Dialect } from '../entities';

/*
 * Row shapes of the auth tables: property names are the column names, as in entities.ts.
 */

export interface AuthUserRow {
  id: string;
  username: string;
  password_hash: string;
  role: string;
  environments: string[] | null;
  disabled: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface AuthApiTokenRow {
  id: string;
  user_id: string;
  name: string;
  token_hash: string;
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface AuthSessionRow {
  id_hash: string;
  user_id: string;
  created_at: Date;
  expires_at: Date;
}

export interface AuditEntryRow {
  seq?: number;
  at: Date;
  user_id: string | null;
  username: string | null;
  token_id: string | null;
  action: string;
  object_ids: Record<string, string>;
  outcome: string;
  status: number | null;
  source_ip: string | null;
  detail: string | null;
  /** Added by migration AuditTaskId1764633600000. */
  task_id: string | null;
}

/** The entity schemas of the auth tables. */
export interface AuthEntities {
  user: EntitySchema<AuthUserRow>;
  apiToken: EntitySchema<AuthApiTokenRow>;
  session: EntitySchema<AuthSessionRow>;
  audit: EntitySchema<AuditEntryRow>;
}

/**
 * Entity schemas of the auth tables (created by {@link AuthTables1764547200000}); registered in
 * the data source next to those of `createEntities`. Time and JSON types per dialect, as there.
 */
export function createAuthEntities(dialect: Dialect): AuthEntities {
  const time = dialect === 'postgres' ? 'timestamptz' : 'datetime';
  const json = dialect === 'postgres' ? 'jsonb' : 'simple-json';
  return {
    user: new EntitySchema<AuthUserRow>({
      name: 'AuthUser',
      tableName: 'auth_users',
      columns: {
        id: { type: 'text', primary: true },
        username: { type: 'text' },
        password_hash: { type: 'text' },
        role: { type: 'text' },
        environments: { type: json, nullable: true },
        disabled: { type: 'boolean' },
        created_at: { type: time },
        updated_at: { type: time },
      },
    }),
    apiToken: new EntitySchema<AuthApiTokenRow>({
      name: 'AuthApiToken',
      tableName: 'auth_api_tokens',
      columns: {
        id: { type: 'text', primary: true },
        user_id: { type: 'text' },
        name: { type: 'text' },
        token_hash: { type: 'text' },
        created_at: { type: time },
        expires_at: { type: time, nullable: true },
        last_used_at: { type: time, nullable: true },
        revoked_at: { type: time, nullable: true },
      },
    }),
    session: new EntitySchema<AuthSessionRow>({
      name: 'AuthSession',
      tableName: 'auth_sessions',
      columns: {
        id_hash: { type: 'text', primary: true },
        user_id: { type: 'text' },
        created_at: { type: time },
        expires_at: { type: time },
      },
    }),
    audit: new EntitySchema<AuditEntryRow>({
      name: 'AuditEntry',
      tableName: 'audit_entries',
      columns: {
        seq: { type: 'integer', primary: true, generated: 'increment' },
        at: { type: time },
        user_id: { type: 'text', nullable: true },
        username: { type: 'text', nullable: true },
        token_id: { type: 'text', nullable: true },
        action: { type: 'text' },
        object_ids: { type: json },
        outcome: { type: 'text' },
        status: { type: 'integer', nullable: true },
        source_ip: { type: 'text', nullable: true },
        detail: { type: 'text', nullable: true },
        task_id: { type: 'text', nullable: true },
      },
    }),
  };
}

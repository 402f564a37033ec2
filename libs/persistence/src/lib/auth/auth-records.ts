/*
 * The records of the auth store, in the shapes `@shipdeck/auth` declares for its `AuthStore`.
 * Persistence (type:infra, scope:shared) may not import the auth library (type:feature,
 * scope:master), so the shapes are repeated here; the integration test
 * (test/persistence/auth-store.test.ts) assigns a TypeormAuthStore to an `AuthStore` and runs the
 * auth library's store contract against it, so a difference fails to compile or to pass.
 */

/** `viewer`, `deployer` or `admin`. */
export type AuthRole = 'viewer' | 'deployer' | 'admin';

export interface AuthUserRecord {
  id: string;
  username: string;
  passwordHash: string;
  role: AuthRole;
  environments: string[] | null;
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface AuthUserPatch {
  passwordHash?: string;
  role?: AuthRole;
  environments?: string[] | null;
  disabled?: boolean;
  updatedAt: string;
}

export interface AuthApiTokenRecord {
  id: string;
  userId: string;
  name: string;
  tokenHash: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface AuthSessionRecord {
  idHash: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
}

export type AuthAuditOutcome = 'succeeded' | 'failed' | 'denied';

export interface AuthNewAuditEntry {
  at: string;
  userId: string | null;
  username: string | null;
  tokenId: string | null;
  action: string;
  objectIds: Record<string, string>;
  outcome: AuthAuditOutcome;
  status: number | null;
  sourceIp: string | null;
  detail: string | null;
  taskId: string | null;
}

export interface AuthAuditEntry extends AuthNewAuditEntry {
  seq: number;
}

export interface AuthAuditQuery {
  limit: number;
  beforeSeq?: number;
  username?: string;
  action?: string;
  outcome?: AuthAuditOutcome;
  from?: string;
  to?: string;
  taskId?: string;
}

/*
 * The records of the auth store. They are declared here, in the layer below `@shipdeck/auth`
 * (which may import persistence, not the reverse), and `@shipdeck/auth` names them for its
 * `AuthStore`. Times are ISO strings (UTC), as in every other Shipdeck record. Secrets never reach
 * the store: passwords as scrypt hashes, tokens and session ids as SHA-256 hashes.
 */

/** `viewer`, `deployer` or `admin`. */
export const AUTH_ROLES = ['viewer', 'deployer', 'admin'] as const;
export type AuthRole = (typeof AUTH_ROLES)[number];

/** A user account. */
export interface AuthUserRecord {
  id: string;
  /** Unique; what people log in with. */
  username: string;
  /** scrypt hash in PHC form (see passwords.ts). */
  passwordHash: string;
  role: AuthRole;
  /** Deployers only: the environments they may deploy to and operate tasks in; null means all. */
  environments: string[] | null;
  /** A disabled user can neither log in nor use their tokens or sessions. */
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The fields of a user that can change; `updatedAt` is always set. */
export interface AuthUserPatch {
  passwordHash?: string;
  role?: AuthRole;
  environments?: string[] | null;
  disabled?: boolean;
  updatedAt: string;
}

/** An API token. The token itself is shown once at creation; only its hash is kept. */
export interface AuthApiTokenRecord {
  id: string;
  userId: string;
  /** What the token is for, given by its creator (e.g. "CI pipeline"). */
  name: string;
  /** SHA-256 of the token, lowercase hex; unique. */
  tokenHash: string;
  createdAt: string;
  /** Null: the token does not expire. */
  expiresAt: string | null;
  /** When it last authenticated a request (recorded at most once a minute); null if never. */
  lastUsedAt: string | null;
  /** When it was revoked; null while it is valid. */
  revokedAt: string | null;
}

/** A browser session. The id is the cookie value; only its hash is kept. */
export interface AuthSessionRecord {
  /** SHA-256 of the session id, lowercase hex. */
  idHash: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
}

/** How an audited action ended. */
export const AUTH_AUDIT_OUTCOMES = ['succeeded', 'failed', 'denied'] as const;
export type AuthAuditOutcome = (typeof AUTH_AUDIT_OUTCOMES)[number];

/** One audited action, as recorded (see {@link AuthAuditEntry} for how it is read back). */
export interface AuthNewAuditEntry {
  at: string;
  /** The acting user's id; null when no user was authenticated (e.g. a failed login). */
  userId: string | null;
  /** The acting (or, for a failed login, the claimed) user name; null when unknown. */
  username: string | null;
  /** The API token the request authenticated with, if any. */
  tokenId: string | null;
  /** What was done, e.g. `POST /api/v1/tasks/:id/start` or `login`. */
  action: string;
  /** The ids of the objects acted upon, e.g. `{ id: "3f2…" }` or `{ environment: "prod" }`. */
  objectIds: Record<string, string>;
  outcome: AuthAuditOutcome;
  /** The HTTP status answered, when the action was a request. */
  status: number | null;
  /** Where the request came from (client IP). */
  sourceIp: string | null;
  /** A short explanation (an error code, a refusal reason); never a secret. */
  detail: string | null;
  taskId: string | null;
}

/** A recorded audit entry; `seq` increases with every entry and is the paging cursor. */
export interface AuthAuditEntry extends AuthNewAuditEntry {
  seq: number;
}

/** Which audit entries to read, newest first. */
export interface AuthAuditQuery {
  /** At most this many entries. */
  limit: number;
  /** Only entries older than this `seq` (the cursor of the next page). */
  beforeSeq?: number;
  username?: string;
  action?: string;
  outcome?: AuthAuditOutcome;
  /** Inclusive ISO time bounds. */
  from?: string;
  to?: string;
  taskId?: string;
}

import { Role } from './permissions';

/*
 * The records auth keeps and the store interface it keeps them in. Times are ISO strings (UTC),
 * as in every other Shipdeck record. Secrets never reach the store: passwords as scrypt hashes,
 * tokens and session ids as SHA-256 hashes.
 */

/** A user account. */
export interface UserRecord {
  id: string;
  /** Unique; what people log in with. */
  username: string;
  /** scrypt hash in PHC form (see passwords.ts). */
  passwordHash: string;
  role: Role;
  /** Deployers only: the environments they may deploy to and operate tasks in; null means all. */
  environments: string[] | null;
  /** A disabled user can neither log in nor use their tokens or sessions. */
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

/** The fields of a user that can change; `updatedAt` is always set. */
export interface UserPatch {
  passwordHash?: string;
  role?: Role;
  environments?: string[] | null;
  disabled?: boolean;
  updatedAt: string;
}

/** An API token. The token itself is shown once at creation; only its hash is kept. */
export interface ApiTokenRecord {
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
export interface SessionRecord {
  /** SHA-256 of the session id, lowercase hex. */
  idHash: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
}

/** How an audited action ended. */
export const AUDIT_OUTCOMES = ['succeeded', 'failed', 'denied'] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** One audited action, as recorded (see {@link AuditEntry} for how it is read back). */
export interface NewAuditEntry {
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
  outcome: AuditOutcome;
  /** The HTTP status answered, when the action was a request. */
  status: number | null;
  /** Where the request came from (client IP). */
  sourceIp: string | null;
  /** A short explanation (an error code, a refusal reason); never a secret. */
  detail: string | null;
  /** The task the request created or acted on, if any: what the task view's actors are read by. */
  taskId: string | null;
}

/** A recorded audit entry; `seq` increases with every entry and is the paging cursor. */
export interface AuditEntry extends NewAuditEntry {
  seq: number;
}

/** Which audit entries to read, newest first. */
export interface AuditQuery {
  /** At most this many entries. */
  limit: number;
  /** Only entries older than this `seq` (the cursor of the next page). */
  beforeSeq?: number;
  username?: string;
  action?: string;
  outcome?: AuditOutcome;
  /** Inclusive ISO time bounds. */
  from?: string;
  to?: string;
  /** Only entries of this task. */
  taskId?: string;
}

/**
 * Where auth keeps users, tokens, sessions and the audit trail. Shared by every master, so that a
 * token revoked or a session opened on one master is seen by the others at once.
 *
 * Implementations translate unreachable databases into `NotReadyError` and uniqueness clashes
 * into `ConflictError` (both from `@shipdeck/errors`).
 */
export interface AuthStore {
  /** Throws ConflictError when the id or the username is taken. */
  insertUser(user: UserRecord): Promise<void>;
  getUser(id: string): Promise<UserRecord | null>;
  getUserByName(username: string): Promise<UserRecord | null>;
  /** Every user, by username. */
  listUsers(): Promise<UserRecord[]>;
  countUsers(): Promise<number>;
  /** Answers the updated user, or null when there is no such user. */
  updateUser(id: string, patch: UserPatch): Promise<UserRecord | null>;
  /** Deletes the user with their tokens and sessions (audit entries stay); false when there was none. */
  deleteUser(id: string): Promise<boolean>;

  /** Throws ConflictError when the id or the hash is taken. */
  insertToken(token: ApiTokenRecord): Promise<void>;
  getToken(id: string): Promise<ApiTokenRecord | null>;
  getTokenByHash(tokenHash: string): Promise<ApiTokenRecord | null>;
  /** Tokens of one user, or of everyone, oldest first. */
  listTokens(userId?: string): Promise<ApiTokenRecord[]>;
  /**
   * Marks the token revoked at `at` (a token already revoked keeps its first time). Answers the
   * token, or null when there is no such token.
   */
  revokeToken(id: string, at: string): Promise<ApiTokenRecord | null>;
  /**
   * Sets the token's last use to `at`, unless it was already used at or after `unlessUsedSince`
   * (so that a busy token is written at most once per interval, not at every request).
   */
  recordTokenUse(id: string, at: string, unlessUsedSince: string): Promise<void>;

  /** Throws ConflictError when the id hash is taken. */
  insertSession(session: SessionRecord): Promise<void>;
  getSession(idHash: string): Promise<SessionRecord | null>;
  /** False when there was no such session. */
  deleteSession(idHash: string): Promise<boolean>;
  /** Ends every session of a user (password change, disabling); answers how many there were. */
  deleteSessionsOfUser(userId: string): Promise<number>;
  /** Deletes sessions that expired at or before `now`; answers how many. */
  deleteExpiredSessions(now: string): Promise<number>;

  appendAudit(entry: NewAuditEntry): Promise<void>;
  /** Entries matching `query`, newest (highest `seq`) first. */
  listAudit(query: AuditQuery): Promise<AuditEntry[]>;
}

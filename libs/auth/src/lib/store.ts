import type {
  AuthApiTokenRecord,
  AuthAuditEntry,
  AuthAuditOutcome,
  AuthAuditQuery,
  AuthNewAuditEntry,
  AuthSessionRecord,
  AuthUserPatch,
  AuthUserRecord,
} from '@shipdeck/persistence';
import { AUTH_AUDIT_OUTCOMES } from '@shipdeck/persistence';

/*
 * The records auth keeps (declared in persistence, documented there) and the store interface it
 * keeps them in.
 */

/** A user account. */
export type UserRecord = AuthUserRecord;
/** The fields of a user that can change; `updatedAt` is always set. */
export type UserPatch = AuthUserPatch;
/** An API token; only its hash is kept. */
export type ApiTokenRecord = AuthApiTokenRecord;
/** A browser session; only the hash of its id is kept. */
export type SessionRecord = AuthSessionRecord;
/** How an audited action ended. */
export const AUDIT_OUTCOMES = AUTH_AUDIT_OUTCOMES;
export type AuditOutcome = AuthAuditOutcome;
/** One audited action, as recorded. */
export type NewAuditEntry = AuthNewAuditEntry;
/** A recorded audit entry; `seq` is the paging cursor. */
export type AuditEntry = AuthAuditEntry;
/** Which audit entries to read, newest first. */
export type AuditQuery = AuthAuditQuery;

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
  /**
   * The token with this hash and its user (null when the user is gone), in one read: what every
   * request presenting a token checks, revocation included, so it is never cached.
   */
  getTokenWithUser(tokenHash: string): Promise<{ token: ApiTokenRecord; user: UserRecord | null } | null>;
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

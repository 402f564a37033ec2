import { randomUUID } from 'node:crypto';
import { FieldError, ValidationError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { AuditRecorder } from './audit';
import { PasswordCheck, PasswordStats } from './password-check';
import { DEFAULT_SCRYPT_PARAMS, ScryptParams, hashPassword } from './passwords';
import { LoginRateLimiter } from './rate-limit';
import { generateSessionId, generateToken, hashSecret, looksLikeSessionId, looksLikeToken } from './secrets';
import { ApiTokenRecord, AuditEntry, AuditQuery, AuthStore, UserPatch, UserRecord } from './store';
import {
  MAX_TOKEN_NAME,
  checkPassword,
  checkRole,
  checkUsername,
  principalOf,
  tokenNotFound,
  unauthenticated,
  userNotFound,
  viewOfToken,
  viewOfUser,
} from './user-rules';
import type { NewUser, OpenedSession, Principal, TokenView, UserChanges, UserView } from './principal';

export type { CredentialKind, NewUser, OpenedSession, Principal, TokenView, UserChanges, UserView } from './principal';
export type { PasswordStats } from './password-check';

/** Options of {@link AuthService}; every default is here. */
export interface AuthServiceOptions {
  store: AuthStore;
  logger: Logger;
  /** Where logins and user/token changes are recorded. */
  audit: AuditRecorder;
  /** Default: the system clock. */
  now?: () => Date;
  /** How long a session lasts from login. Default 12 hours. */
  sessionTtlMs?: number;
  /** A token's last use is written at most this often. Default 60 s. */
  tokenUseIntervalMs?: number;
  /**
   * A successful password check is remembered this long (in memory, keyed by an HMAC of name and
   * password), so that a script using HTTP basic auth does not cost a password hash per request.
   * It is forgotten as soon as the user's stored hash changes. 0 turns it off. Default 60 s.
   */
  passwordCacheMs?: number;
  /** scrypt parameters for new hashes. Default {@link DEFAULT_SCRYPT_PARAMS}. */
  scrypt?: ScryptParams;
  /** Limits failed password attempts (login and HTTP basic). Default: 5 per address and user, then one every 20 s. */
  limiter?: LoginRateLimiter;
}

/** The compiled options, every default applied. */
interface CompiledOptions {
  now: () => Date;
  sessionTtlMs: number;
  tokenUseIntervalMs: number;
  scrypt: ScryptParams;
}

/**
 * Users, API tokens and sessions over an {@link AuthStore}: creating them, and turning presented
 * credentials into a {@link Principal}. Every refusal of credentials is an {@link AuthError}
 * UNAUTHENTICATED (or TOO_MANY_ATTEMPTS); invalid input is a ValidationError.
 */
export class AuthService {
  private readonly store: AuthStore;
  private readonly logger: Logger;
  private readonly options: CompiledOptions;
  private readonly passwords: PasswordCheck;

  constructor(options: AuthServiceOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.options = {
      now: options.now ?? (() => new Date()),
      sessionTtlMs: options.sessionTtlMs ?? 12 * 60 * 60 * 1000,
      tokenUseIntervalMs: options.tokenUseIntervalMs ?? 60_000,
      scrypt: options.scrypt ?? DEFAULT_SCRYPT_PARAMS,
    };
    this.passwords = new PasswordCheck({
      store: options.store,
      logger: options.logger,
      audit: options.audit,
      limiter: options.limiter ?? new LoginRateLimiter(),
      now: this.options.now,
      scrypt: this.options.scrypt,
      passwordCacheMs: options.passwordCacheMs ?? 60_000,
    });
  }

  // ---- users ----

  /** Creates a user; ConflictError when the name is taken. */
  async createUser(user: NewUser): Promise<UserView> {
    const problems = [
      ...checkUsername(user.username),
      ...checkPassword(user.password),
      ...checkRole(user.role, user.environments ?? null),
    ];
    if (problems.length > 0) throw new ValidationError('invalid user', problems);
    const now = this.nowIso();
    const record: UserRecord = {
      id: randomUUID(),
      username: user.username,
      passwordHash: await hashPassword(user.password, this.options.scrypt),
      role: user.role,
      environments: user.role === 'deployer' ? (user.environments ?? null) : null,
      disabled: false,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.insertUser(record);
    this.logger.info('user created', { user: record.username, role: record.role });
    return viewOfUser(record);
  }

  async listUsers(): Promise<UserView[]> {
    return (await this.store.listUsers()).map(viewOfUser);
  }

  async getUser(id: string): Promise<UserView> {
    return viewOfUser(await this.requireUser(id));
  }

  /** The user named `username`; UserNotFound (404) when there is none. */
  async getUserByName(username: string): Promise<UserView> {
    const user = await this.store.getUserByName(username);
    if (!user) throw userNotFound(username);
    return viewOfUser(user);
  }

  /** Audit entries matching `query`, newest first. */
  listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.store.listAudit(query);
  }

  /** Changes role, environments or disabled; disabling ends the user's sessions. */
  async updateUser(id: string, changes: UserChanges): Promise<UserView> {
    const current = await this.requireUser(id);
    const role = changes.role ?? current.role;
    // Only deployers are narrowed: a role change away from deployer drops the list.
    const environments =
      changes.environments !== undefined ? changes.environments : role === 'deployer' ? current.environments : null;
    const problems = checkRole(role, environments);
    if (problems.length > 0) throw new ValidationError('invalid user change', problems);
    const patch: UserPatch = { updatedAt: this.nowIso() };
    if (changes.role !== undefined) patch.role = changes.role;
    if (changes.role !== undefined || changes.environments !== undefined) patch.environments = environments;
    if (changes.disabled !== undefined) patch.disabled = changes.disabled;
    const updated = await this.store.updateUser(id, patch);
    if (!updated) throw userNotFound(id);
    if (changes.disabled === true) await this.store.deleteSessionsOfUser(id);
    this.logger.info('user changed', { user: updated.username, role: updated.role, disabled: updated.disabled });
    return viewOfUser(updated);
  }

  /** Sets a new password and ends the user's sessions (their tokens stay valid). */
  async changePassword(id: string, password: string): Promise<void> {
    const problems = checkPassword(password);
    if (problems.length > 0) throw new ValidationError('invalid password', problems);
    const updated = await this.store.updateUser(id, {
      passwordHash: await hashPassword(password, this.options.scrypt),
      updatedAt: this.nowIso(),
    });
    if (!updated) throw userNotFound(id);
    await this.store.deleteSessionsOfUser(id);
    this.logger.info('password changed', { user: updated.username });
  }

  /** Deletes a user with their tokens and sessions. */
  async deleteUser(id: string): Promise<void> {
    if (!(await this.store.deleteUser(id))) throw userNotFound(id);
    this.logger.info('user deleted', { userId: id });
  }

  // ---- passwords ----

  /**
   * The principal for a user name and password presented from `ip`, via a login form or HTTP basic
   * auth. Failures are rate-limited per address and name, logged (never with the password) and
   * audited; an unknown name costs as much time as a wrong password.
   */
  verifyPassword(username: string, password: string, ip: string, via: 'basic' | 'session' = 'basic'): Promise<Principal> {
    return this.passwords.verify(username, password, ip, via);
  }

  /** Counters of the password work done so far. */
  get passwordStats(): Readonly<PasswordStats> {
    return this.passwords.stats;
  }

  // ---- tokens ----

  /**
   * Creates an API token for a user. The token is in the answer and nowhere else: it cannot be
   * shown again.
   */
  async createToken(userId: string, name: string, expiresAt: string | null = null): Promise<{ token: string; record: TokenView }> {
    const problems: FieldError[] = [];
    if (name.trim().length === 0 || name.length > MAX_TOKEN_NAME) {
      problems.push({ field: 'name', message: `must be 1 to ${MAX_TOKEN_NAME} characters` });
    }
    const now = this.options.now();
    if (expiresAt !== null) {
      const expiry = new Date(expiresAt);
      if (Number.isNaN(expiry.getTime())) problems.push({ field: 'expiresAt', message: 'must be an ISO time' });
      else if (expiry.getTime() <= now.getTime()) problems.push({ field: 'expiresAt', message: 'must be in the future' });
    }
    if (problems.length > 0) throw new ValidationError('invalid token', problems);
    const user = await this.requireUser(userId);
    const token = generateToken();
    const record: ApiTokenRecord = {
      id: randomUUID(),
      userId: user.id,
      name,
      tokenHash: hashSecret(token),
      createdAt: now.toISOString(),
      expiresAt: expiresAt === null ? null : new Date(expiresAt).toISOString(),
      lastUsedAt: null,
      revokedAt: null,
    };
    await this.store.insertToken(record);
    this.logger.info('API token created', { user: user.username, tokenId: record.id, name });
    return { token, record: viewOfToken(record) };
  }

  async getToken(id: string): Promise<TokenView> {
    const token = await this.store.getToken(id);
    if (!token) throw tokenNotFound(id);
    return viewOfToken(token);
  }

  /** Tokens of one user, or of everyone. */
  async listTokens(userId?: string): Promise<TokenView[]> {
    return (await this.store.listTokens(userId)).map(viewOfToken);
  }

  /** Revokes a token; every master refuses it from its next request on. */
  async revokeToken(id: string): Promise<TokenView> {
    const token = await this.store.revokeToken(id, this.nowIso());
    if (!token) throw tokenNotFound(id);
    this.logger.info('API token revoked', { tokenId: id });
    return viewOfToken(token);
  }

  /** The principal for a presented API token, recording its use. */
  async verifyToken(token: string): Promise<Principal> {
    if (!looksLikeToken(token)) throw unauthenticated('malformed token');
    // One read per request, never cached: a revocation through any master refuses the next request.
    const found = await this.store.getTokenWithUser(hashSecret(token));
    if (!found) throw unauthenticated('unknown token');
    const { token: record, user } = found;
    const now = this.options.now();
    if (record.revokedAt !== null) throw unauthenticated('token revoked');
    if (record.expiresAt !== null && new Date(record.expiresAt).getTime() <= now.getTime()) {
      throw unauthenticated('token expired');
    }
    if (!user || user.disabled) throw unauthenticated('the token\'s user is disabled or deleted');
    const since = now.getTime() - this.options.tokenUseIntervalMs;
    // The row just read says whether the last use is older than the interval: most requests write nothing.
    if (record.lastUsedAt === null || new Date(record.lastUsedAt).getTime() < since) {
      await this.store.recordTokenUse(record.id, now.toISOString(), new Date(since).toISOString());
    }
    return principalOf(user, 'token', record.id);
  }

  // ---- sessions ----

  /** Checks a user name and password and opens a session (stored, so every master accepts it). */
  async login(username: string, password: string, ip: string): Promise<OpenedSession> {
    const principal = await this.verifyPassword(username, password, ip, 'session');
    const sessionId = generateSessionId();
    const now = this.options.now();
    const expiresAt = new Date(now.getTime() + this.options.sessionTtlMs).toISOString();
    await this.store.insertSession({ idHash: hashSecret(sessionId), userId: principal.userId, createdAt: now.toISOString(), expiresAt });
    this.logger.info('login', { user: username, ip });
    await this.passwords.auditLogin(username, principal.userId, ip, 'succeeded', null);
    return { sessionId, expiresAt, principal };
  }

  /** The principal for a session cookie value. */
  async verifySession(sessionId: string): Promise<Principal> {
    if (!looksLikeSessionId(sessionId)) throw unauthenticated('malformed session');
    const idHash = hashSecret(sessionId);
    const session = await this.store.getSession(idHash);
    if (!session) throw unauthenticated('session unknown or ended');
    if (new Date(session.expiresAt).getTime() <= this.options.now().getTime()) {
      await this.store.deleteSession(idHash);
      throw unauthenticated('session expired');
    }
    const user = await this.store.getUser(session.userId);
    if (!user || user.disabled) throw unauthenticated('the session\'s user is disabled or deleted');
    return principalOf(user, 'session', null);
  }

  /** Ends a session; nothing happens for an unknown one. */
  async logout(sessionId: string): Promise<void> {
    if (looksLikeSessionId(sessionId)) await this.store.deleteSession(hashSecret(sessionId));
  }

  /** Deletes expired sessions (housekeeping); answers how many. */
  deleteExpiredSessions(): Promise<number> {
    return this.store.deleteExpiredSessions(this.nowIso());
  }

  // ---- helpers ----

  private async requireUser(id: string): Promise<UserRecord> {
    const user = await this.store.getUser(id);
    if (!user) throw userNotFound(id);
    return user;
  }

  private nowIso(): string {
    return this.options.now().toISOString();
  }
}

import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { FieldError, ValidationError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { AuditRecorder, recordSafely } from './audit';
import { AuthError, AuthErrorCode } from './errors';
import {
  DEFAULT_SCRYPT_PARAMS,
  ScryptParams,
  hashPassword,
  needsRehash,
  verifyPassword,
} from './passwords';
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
  passwordCacheMs: number;
  scrypt: ScryptParams;
}

/** At most this many remembered password checks; the oldest go first. */
const MAX_CACHED_PASSWORD_CHECKS = 1000;

/** Counters of the password work done, for metrics (and tests). */
export interface PasswordStats {
  /** Password hashes computed to check a password (including the stand-in for unknown users). */
  hashesComputed: number;
  /** Password checks answered from the cache. */
  cacheHits: number;
}

/**
 * Users, API tokens and sessions over an {@link AuthStore}: creating them, and turning presented
 * credentials into a {@link Principal}. Every refusal of credentials is an {@link AuthError}
 * UNAUTHENTICATED (or TOO_MANY_ATTEMPTS); invalid input is a ValidationError.
 */
export class AuthService {
  private readonly store: AuthStore;
  private readonly logger: Logger;
  private readonly audit: AuditRecorder;
  private readonly limiter: LoginRateLimiter;
  private readonly options: CompiledOptions;
  private dummyHash: Promise<string> | undefined;
  /** HMAC(name, password) → the user and stored hash a check succeeded against, and until when. */
  private readonly verified = new Map<string, { userId: string; passwordHash: string; untilMs: number }>();
  private readonly cacheKey = new Uint8Array(randomBytes(32));
  private readonly counters: PasswordStats = { hashesComputed: 0, cacheHits: 0 };

  constructor(options: AuthServiceOptions) {
    this.store = options.store;
    this.logger = options.logger;
    this.audit = options.audit;
    this.limiter = options.limiter ?? new LoginRateLimiter();
    this.options = {
      now: options.now ?? (() => new Date()),
      sessionTtlMs: options.sessionTtlMs ?? 12 * 60 * 60 * 1000,
      tokenUseIntervalMs: options.tokenUseIntervalMs ?? 60_000,
      passwordCacheMs: options.passwordCacheMs ?? 60_000,
      scrypt: options.scrypt ?? DEFAULT_SCRYPT_PARAMS,
    };
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
  async verifyPassword(username: string, password: string, ip: string, via: 'basic' | 'session' = 'basic'): Promise<Principal> {
    const nowMs = this.options.now().getTime();
    const limit = this.limiter.check(ip, username, nowMs);
    if (!limit.allowed) {
      const seconds = Math.ceil(limit.retryAfterMs / 1000);
      this.logger.warn('login refused: too many failed attempts', { user: username, ip, retryAfterSeconds: seconds });
      await this.auditLogin(username, null, ip, 'denied', AuthErrorCode.TOO_MANY_ATTEMPTS);
      throw new AuthError(AuthErrorCode.TOO_MANY_ATTEMPTS, `too many failed logins; try again in ${seconds} s`, {
        'Retry-After': String(seconds),
      });
    }
    const user = username.length <= 64 ? await this.store.getUserByName(username) : null;
    const cacheKey = createHmac('sha256', this.cacheKey).update(`${username}\u0000${password}`).digest('hex');
    const cached = this.verified.get(cacheKey);
    if (user && !user.disabled && cached && cached.userId === user.id && cached.passwordHash === user.passwordHash && cached.untilMs > nowMs) {
      this.counters.cacheHits++;
      return principalOf(user, via, null);
    }
    // Hash anyway for an unknown user, so that response times do not tell which names exist.
    this.counters.hashesComputed++;
    const matches = await verifyPassword(password, user?.passwordHash ?? (await this.dummy()));
    if (!user || !matches || user.disabled) {
      this.verified.delete(cacheKey);
      this.limiter.recordFailure(ip, username, nowMs);
      const reason = !user ? 'unknown user' : !matches ? 'wrong password' : 'user disabled';
      this.logger.warn('login failed', { user: username, ip, reason });
      await this.auditLogin(username, user?.id ?? null, ip, 'failed', reason);
      throw new AuthError(AuthErrorCode.UNAUTHENTICATED, 'wrong user name or password');
    }
    this.limiter.recordSuccess(ip, username);
    let passwordHash = user.passwordHash;
    if (needsRehash(passwordHash, this.options.scrypt)) {
      passwordHash = await hashPassword(password, this.options.scrypt);
      await this.store.updateUser(user.id, { passwordHash, updatedAt: this.nowIso() });
    }
    this.remember(cacheKey, user.id, passwordHash, nowMs);
    return principalOf(user, via, null);
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
    const record = await this.store.getTokenByHash(hashSecret(token));
    if (!record) throw unauthenticated('unknown token');
    const now = this.options.now();
    if (record.revokedAt !== null) throw unauthenticated('token revoked');
    if (record.expiresAt !== null && new Date(record.expiresAt).getTime() <= now.getTime()) {
      throw unauthenticated('token expired');
    }
    const user = await this.store.getUser(record.userId);
    if (!user || user.disabled) throw unauthenticated('the token\'s user is disabled or deleted');
    await this.store.recordTokenUse(
      record.id,
      now.toISOString(),
      new Date(now.getTime() - this.options.tokenUseIntervalMs).toISOString(),
    );
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
    await this.auditLogin(username, principal.userId, ip, 'succeeded', null);
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

  /** Counters of the password work done so far. */
  get passwordStats(): Readonly<PasswordStats> {
    return { ...this.counters };
  }

  private remember(cacheKey: string, userId: string, passwordHash: string, nowMs: number): void {
    if (this.options.passwordCacheMs <= 0) return;
    this.verified.delete(cacheKey);
    this.verified.set(cacheKey, { userId, passwordHash, untilMs: nowMs + this.options.passwordCacheMs });
    for (const key of this.verified.keys()) {
      if (this.verified.size <= MAX_CACHED_PASSWORD_CHECKS) break;
      this.verified.delete(key);
    }
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(generateSessionId(), this.options.scrypt);
    return this.dummyHash;
  }

  private auditLogin(
    username: string,
    userId: string | null,
    ip: string,
    outcome: 'succeeded' | 'failed' | 'denied',
    detail: string | null,
  ): Promise<void> {
    return recordSafely(
      this.audit,
      {
        at: this.nowIso(),
        userId,
        // A name too long to be a user's is cut, so that the audit trail cannot be flooded with it.
        username: username.slice(0, 64),
        tokenId: null,
        action: 'login',
        objectIds: {},
        outcome,
        status: null,
        sourceIp: ip,
        detail,
        taskId: null,
      },
      this.logger,
    );
  }
}

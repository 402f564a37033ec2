import { createHmac, randomBytes } from 'node:crypto';
import { Logger } from '@shipdeck/logging';
import { AuditRecorder, recordSafely } from './audit';
import { AuthError, AuthErrorCode } from './errors';
import { ScryptParams, hashPassword, needsRehash, verifyPassword } from './passwords';
import type { Principal } from './principal';
import { LoginRateLimiter } from './rate-limit';
import { generateSessionId } from './secrets';
import { AuthStore } from './store';
import { principalOf } from './user-rules';

/** What a {@link PasswordCheck} needs: the password parts of the AuthService options, compiled. */
export interface PasswordCheckOptions {
  store: AuthStore;
  logger: Logger;
  audit: AuditRecorder;
  limiter: LoginRateLimiter;
  now: () => Date;
  /** scrypt parameters for new hashes (an older hash is rehashed with them at its next check). */
  scrypt: ScryptParams;
  /** How long a successful check is remembered; 0 turns the cache off. */
  passwordCacheMs: number;
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
 * Checks a user name and password (login form or HTTP basic auth): rate-limited per address and
 * name, remembered for a while so that a script using basic auth does not cost a hash per
 * request, and audited. One per {@link AuthService}.
 */
export class PasswordCheck {
  private dummyHash: Promise<string> | undefined;
  /** HMAC(name, password) → the user and stored hash a check succeeded against, and until when. */
  private readonly verified = new Map<string, { userId: string; passwordHash: string; untilMs: number }>();
  private readonly cacheKey = new Uint8Array(randomBytes(32));
  private readonly counters: PasswordStats = { hashesComputed: 0, cacheHits: 0 };

  constructor(private readonly options: PasswordCheckOptions) {}

  /** Counters of the password work done so far. */
  get stats(): Readonly<PasswordStats> {
    return { ...this.counters };
  }

  /**
   * The principal for a user name and password presented from `ip`. Failures are rate-limited,
   * logged (never with the password) and audited; an unknown name costs as much time as a wrong
   * password.
   */
  async verify(username: string, password: string, ip: string, via: 'basic' | 'session'): Promise<Principal> {
    const { store, logger, limiter, scrypt } = this.options;
    const nowMs = this.options.now().getTime();
    const limit = limiter.check(ip, username, nowMs);
    if (!limit.allowed) {
      const seconds = Math.ceil(limit.retryAfterMs / 1000);
      logger.warn('login refused: too many failed attempts', { user: username, ip, retryAfterSeconds: seconds });
      await this.auditLogin(username, null, ip, 'denied', AuthErrorCode.TOO_MANY_ATTEMPTS);
      throw new AuthError(AuthErrorCode.TOO_MANY_ATTEMPTS, `too many failed logins; try again in ${seconds} s`, {
        'Retry-After': String(seconds),
      });
    }
    const user = username.length <= 64 ? await store.getUserByName(username) : null;
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
      limiter.recordFailure(ip, username, nowMs);
      const reason = !user ? 'unknown user' : !matches ? 'wrong password' : 'user disabled';
      logger.warn('login failed', { user: username, ip, reason });
      await this.auditLogin(username, user?.id ?? null, ip, 'failed', reason);
      throw new AuthError(AuthErrorCode.UNAUTHENTICATED, 'wrong user name or password');
    }
    limiter.recordSuccess(ip, username);
    let passwordHash = user.passwordHash;
    if (needsRehash(passwordHash, scrypt)) {
      passwordHash = await hashPassword(password, scrypt);
      await store.updateUser(user.id, { passwordHash, updatedAt: this.options.now().toISOString() });
    }
    this.remember(cacheKey, user.id, passwordHash, nowMs);
    return principalOf(user, via, null);
  }

  /** Records a login attempt in the audit trail (a failure to record is logged, not thrown). */
  auditLogin(username: string, userId: string | null, ip: string, outcome: 'succeeded' | 'failed' | 'denied', detail: string | null): Promise<void> {
    return recordSafely(
      this.options.audit,
      {
        at: this.options.now().toISOString(),
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
      this.options.logger,
    );
  }

  private remember(cacheKey: string, userId: string, passwordHash: string, nowMs: number): void {
    const { passwordCacheMs } = this.options;
    if (passwordCacheMs <= 0) return;
    this.verified.delete(cacheKey);
    this.verified.set(cacheKey, { userId, passwordHash, untilMs: nowMs + passwordCacheMs });
    for (const key of this.verified.keys()) {
      if (this.verified.size <= MAX_CACHED_PASSWORD_CHECKS) break;
      this.verified.delete(key);
    }
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(generateSessionId(), this.options.scrypt);
    return this.dummyHash;
  }
}

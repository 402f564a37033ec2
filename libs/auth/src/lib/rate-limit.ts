/**
 * In-memory token buckets. Pure apart from their own state: the caller passes the time, so tests
 * and callers decide the clock. Per process: each master limits on its own, which bounds an
 * attacker to (masters × rate) guesses — still a few per minute.
 */

/** Options of {@link TokenBucketLimiter}. */
export interface TokenBucketOptions {
  /** Tokens in a full bucket: how many attempts may come in a burst. */
  capacity: number;
  /** One token is added back every this many milliseconds, up to `capacity`. */
  refillIntervalMs: number;
  /**
   * At most this many keys are remembered; beyond it, full buckets (which mean the same as no
   * bucket) are forgotten first, then the oldest. Bounds memory under a flood of distinct keys.
   */
  maxKeys: number;
}

/** The answer of a check: allowed, or refused with the time until the next token. */
export type LimitDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date. */
  updatedMs: number;
}

/** Token buckets per key. */
export class TokenBucketLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: TokenBucketOptions) {
    if (!(options.capacity >= 1) || !(options.refillIntervalMs > 0) || !(options.maxKeys >= 1)) {
      throw new RangeError('token bucket: capacity and maxKeys must be at least 1, refillIntervalMs positive');
    }
  }

  /** Tokens left for `key` at `nowMs` (fractional while refilling). */
  available(key: string, nowMs: number): number {
    const bucket = this.buckets.get(key);
    return bucket ? this.refilled(bucket, nowMs) : this.options.capacity;
  }

  /** Whether an attempt would be allowed now, without taking a token. */
  check(key: string, nowMs: number): LimitDecision {
    return this.decide(this.available(key, nowMs));
  }

  /** Takes a token when one is there; answers whether it was. */
  consume(key: string, nowMs: number): LimitDecision {
    const tokens = this.available(key, nowMs);
    const decision = this.decide(tokens);
    if (decision.allowed) {
      this.buckets.delete(key);
      this.buckets.set(key, { tokens: tokens - 1, updatedMs: nowMs });
      this.evict(nowMs);
    }
    return decision;
  }

  /** Forgets `key`, i.e. gives it a full bucket. */
  reset(key: string): void {
    this.buckets.delete(key);
  }

  /** How many keys are remembered (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private refilled(bucket: Bucket, nowMs: number): number {
    const elapsed = Math.max(0, nowMs - bucket.updatedMs);
    return Math.min(this.options.capacity, bucket.tokens + elapsed / this.options.refillIntervalMs);
  }

  private decide(tokens: number): LimitDecision {
    if (tokens >= 1) return { allowed: true };
    return { allowed: false, retryAfterMs: Math.ceil((1 - tokens) * this.options.refillIntervalMs) };
  }

  private evict(nowMs: number): void {
    if (this.buckets.size <= this.options.maxKeys) return;
    for (const [key, bucket] of this.buckets) {
      if (this.refilled(bucket, nowMs) >= this.options.capacity) this.buckets.delete(key);
    }
    // Map order is insertion order and `consume` re-inserts, so the first keys are the least recently used.
    for (const key of this.buckets.keys()) {
      if (this.buckets.size <= this.options.maxKeys) break;
      this.buckets.delete(key);
    }
  }
}

/** Defaults of {@link LoginRateLimiter}: a burst of 5 failures, then one more every 20 s. */
export const DEFAULT_LOGIN_LIMIT: Readonly<TokenBucketOptions> = { capacity: 5, refillIntervalMs: 20_000, maxKeys: 10_000 };

/**
 * Limits failed password attempts per client address and user name: only failures take a token,
 * so a script using HTTP basic auth with the right password is never slowed down, and a success
 * gives the pair a full bucket again.
 */
export class LoginRateLimiter {
  private readonly buckets: TokenBucketLimiter;

  constructor(options: TokenBucketOptions = DEFAULT_LOGIN_LIMIT) {
    this.buckets = new TokenBucketLimiter(options);
  }

  /** Whether a password attempt from `ip` for `username` may be checked now. */
  check(ip: string, username: string, nowMs: number): LimitDecision {
    return this.buckets.check(key(ip, username), nowMs);
  }

  /** Records a failed attempt. */
  recordFailure(ip: string, username: string, nowMs: number): void {
    this.buckets.consume(key(ip, username), nowMs);
  }

  /** Records a successful attempt: the pair starts afresh. */
  recordSuccess(ip: string, username: string): void {
    this.buckets.reset(key(ip, username));
  }
}

function key(ip: string, username: string): string {
  // User names compare case-insensitively here so that `Admin` and `admin` share one bucket.
  return `${ip}\u0000${username.toLowerCase()}`;
}

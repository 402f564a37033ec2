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

/** Defaults of {@link LoginRateLimiter} per address and user: a burst of 5 failures, then one more every 20 s. */
export const DEFAULT_LOGIN_LIMIT: Readonly<TokenBucketOptions> = { capacity: 5, refillIntervalMs: 20_000, maxKeys: 10_000 };

/**
 * Defaults of {@link LoginRateLimiter} per address alone: a burst of 30 failures, then one every 2 s.
 * Each failed attempt costs a password hash (a few hundred milliseconds of CPU), so an address
 * trying many user names must be slowed down too.
 */
export const DEFAULT_ADDRESS_LIMIT: Readonly<TokenBucketOptions> = { capacity: 30, refillIntervalMs: 2_000, maxKeys: 10_000 };

/** Options of {@link LoginRateLimiter}: the bucket per address and user, and the one per address. */
export interface LoginRateLimiterOptions extends TokenBucketOptions {
  /** Default {@link DEFAULT_ADDRESS_LIMIT}. */
  perAddress?: TokenBucketOptions;
}

/**
 * Limits failed password attempts per client address and user name, and per address: only
 * failures take tokens, so a script using HTTP basic auth with the right password is never slowed
 * down. A success gives the address and user pair a full bucket again, but not the address (an
 * attacker with one valid account must not be able to refill it).
 */
export class LoginRateLimiter {
  private readonly pairs: TokenBucketLimiter;
  private readonly addresses: TokenBucketLimiter;

  constructor(options: LoginRateLimiterOptions = DEFAULT_LOGIN_LIMIT) {
    this.pairs = new TokenBucketLimiter(options);
    this.addresses = new TokenBucketLimiter(options.perAddress ?? DEFAULT_ADDRESS_LIMIT);
  }

  /** Whether a password attempt from `ip` for `username` may be checked now. */
  check(ip: string, username: string, nowMs: number): LimitDecision {
    const pair = this.pairs.check(key(ip, username), nowMs);
    const address = this.addresses.check(ip, nowMs);
    if (pair.allowed && address.allowed) return pair;
    return { allowed: false, retryAfterMs: Math.max(retryAfter(pair), retryAfter(address)) };
  }

  /** Records a failed attempt. */
  recordFailure(ip: string, username: string, nowMs: number): void {
    this.pairs.consume(key(ip, username), nowMs);
    this.addresses.consume(ip, nowMs);
  }

  /** Records a successful attempt: the pair starts afresh. */
  recordSuccess(ip: string, username: string): void {
    this.pairs.reset(key(ip, username));
  }
}

function retryAfter(decision: LimitDecision): number {
  return decision.allowed ? 0 : decision.retryAfterMs;
}

function key(ip: string, username: string): string {
  // User names compare case-insensitively here so that `Admin` and `admin` share one bucket.
  return `${ip}\u0000${username.toLowerCase()}`;
}

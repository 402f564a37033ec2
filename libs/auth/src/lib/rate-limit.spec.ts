import { LoginRateLimiter, TokenBucketLimiter } from './rate-limit';

describe('TokenBucketLimiter', () => {
  const options = { capacity: 3, refillIntervalMs: 1000, maxKeys: 100 };

  it('allows a burst of `capacity`, then refuses with the time until the next token', () => {
    const limiter = new TokenBucketLimiter(options);
    expect(limiter.consume('k', 0)).toEqual({ allowed: true });
    expect(limiter.consume('k', 0)).toEqual({ allowed: true });
    expect(limiter.consume('k', 0)).toEqual({ allowed: true });
    expect(limiter.consume('k', 0)).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(limiter.consume('k', 400)).toEqual({ allowed: false, retryAfterMs: 600 });
  });

  it('refills one token per interval, never above capacity', () => {
    const limiter = new TokenBucketLimiter(options);
    for (let i = 0; i < 3; i++) limiter.consume('k', 0);
    expect(limiter.available('k', 999)).toBeCloseTo(0.999);
    expect(limiter.consume('k', 1000)).toEqual({ allowed: true });
    expect(limiter.consume('k', 1000).allowed).toBe(false);
    expect(limiter.available('k', 1_000_000)).toBe(3);
  });

  it('keeps keys apart', () => {
    const limiter = new TokenBucketLimiter(options);
    for (let i = 0; i < 3; i++) limiter.consume('a', 0);
    expect(limiter.consume('a', 0).allowed).toBe(false);
    expect(limiter.consume('b', 0).allowed).toBe(true);
  });

  it('check does not take a token', () => {
    const limiter = new TokenBucketLimiter(options);
    for (let i = 0; i < 10; i++) expect(limiter.check('k', 0)).toEqual({ allowed: true });
    expect(limiter.available('k', 0)).toBe(3);
  });

  it('does not go backwards when the clock does', () => {
    const limiter = new TokenBucketLimiter(options);
    for (let i = 0; i < 3; i++) limiter.consume('k', 5000);
    expect(limiter.available('k', 1000)).toBe(0);
  });

  it('remembers at most maxKeys keys, forgetting full buckets first, then the least recently used', () => {
    const limiter = new TokenBucketLimiter({ capacity: 2, refillIntervalMs: 1000, maxKeys: 2 });
    limiter.consume('old', 0);
    limiter.consume('drained', 0);
    limiter.consume('drained', 0);
    // At 1000 `old` has refilled (same as unknown); `drained` has not.
    limiter.consume('new', 1000);
    expect(limiter.size).toBe(2);
    expect(limiter.available('drained', 1000)).toBe(1);
    // Nothing is full now: the least recently used key goes.
    limiter.consume('newer', 1000);
    expect(limiter.size).toBe(2);
    expect(limiter.available('drained', 1000)).toBe(2);
    expect(limiter.available('new', 1000)).toBe(1);
  });

  it('refuses nonsensical options', () => {
    expect(() => new TokenBucketLimiter({ capacity: 0, refillIntervalMs: 1, maxKeys: 1 })).toThrow(RangeError);
    expect(() => new TokenBucketLimiter({ capacity: 1, refillIntervalMs: 0, maxKeys: 1 })).toThrow(RangeError);
  });
});

describe('LoginRateLimiter', () => {
  const options = { capacity: 2, refillIntervalMs: 10_000, maxKeys: 100 };

  it('counts only failures, per address and user name (case-insensitive)', () => {
    const limiter = new LoginRateLimiter(options);
    limiter.recordFailure('10.0.0.1', 'alice', 0);
    limiter.recordFailure('10.0.0.1', 'Alice', 0);
    expect(limiter.check('10.0.0.1', 'ALICE', 0)).toEqual({ allowed: false, retryAfterMs: 10_000 });
    expect(limiter.check('10.0.0.2', 'alice', 0)).toEqual({ allowed: true });
    expect(limiter.check('10.0.0.1', 'bob', 0)).toEqual({ allowed: true });
    expect(limiter.check('10.0.0.1', 'alice', 10_000)).toEqual({ allowed: true });
  });

  it('a success gives the pair a full bucket', () => {
    const limiter = new LoginRateLimiter(options);
    limiter.recordFailure('ip', 'alice', 0);
    limiter.recordSuccess('ip', 'alice');
    limiter.recordFailure('ip', 'alice', 0);
    expect(limiter.check('ip', 'alice', 0)).toEqual({ allowed: true });
  });

  it('also limits an address trying many user names, and a success does not refill the address', () => {
    const limiter = new LoginRateLimiter({ ...options, perAddress: { capacity: 3, refillIntervalMs: 1000, maxKeys: 100 } });
    limiter.recordFailure('ip', 'a', 0);
    limiter.recordFailure('ip', 'b', 0);
    limiter.recordSuccess('ip', 'b');
    limiter.recordFailure('ip', 'c', 0);
    expect(limiter.check('ip', 'd', 0)).toEqual({ allowed: false, retryAfterMs: 1000 });
    expect(limiter.check('other-ip', 'd', 0)).toEqual({ allowed: true });
    expect(limiter.check('ip', 'd', 1000)).toEqual({ allowed: true });
    // Both limits apply: the longer wait is the answer.
    limiter.recordFailure('ip', 'a', 1000);
    // The pair had 1 token left at 0, refilled by 0.1 until 1000 and lost 1: 0.9 × 10 s to go; the address 1 s.
    expect(limiter.check('ip', 'a', 1000)).toEqual({ allowed: false, retryAfterMs: 9000 });
  });

  it('separates address and user name unambiguously', () => {
    const limiter = new LoginRateLimiter({ ...options, capacity: 1 });
    limiter.recordFailure('a', 'b c', 0);
    expect(limiter.check('a b', 'c', 0)).toEqual({ allowed: true });
  });
});

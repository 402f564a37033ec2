import { backoffDelayMs } from './backoff';

describe('backoffDelayMs', () => {
  const options = { initialDelayMs: 100, maxDelayMs: 1000 };

  it('doubles from the initial delay up to the cap', () => {
    expect([0, 1, 2, 3, 4, 10, 100].map((attempt) => backoffDelayMs(attempt, options))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('spreads the wait over the jitter range', () => {
    const jittered = { ...options, jitter: [0.5, 1] as const };
    expect(backoffDelayMs(2, jittered, () => 0)).toBe(200);
    expect(backoffDelayMs(2, jittered, () => 0.5)).toBe(300);
    expect(backoffDelayMs(2, jittered, () => 0.999_999)).toBe(400);
  });

  it('jitters the capped delay too, above and below it', () => {
    const jittered = { ...options, jitter: [0.8, 1.2] as const };
    expect(backoffDelayMs(50, jittered, () => 0)).toBe(800);
    expect(backoffDelayMs(50, jittered, () => 0.999_999)).toBe(1200);
  });
});

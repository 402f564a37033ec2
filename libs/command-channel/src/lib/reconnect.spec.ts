import { reconnectBackoffWithin } from './reconnect';

describe('reconnectBackoffWithin', () => {
  it.each([2_000, 10_000, 30_000, 600_000, 300, 10])('keeps the longest wait (with jitter) within a third of a %i ms grace period, at most 10 s', (grace) => {
    const { initialDelayMs, maxDelayMs } = reconnectBackoffWithin(grace);
    expect(initialDelayMs).toBeGreaterThan(0);
    expect(maxDelayMs).toBeGreaterThanOrEqual(initialDelayMs);
    expect(maxDelayMs).toBeLessThanOrEqual(10_000);
    if (grace >= 300) expect(maxDelayMs * 1.2).toBeLessThanOrEqual(grace / 3);
  });

  it('keeps the defaults (500 ms doubling to 10 s) for long grace periods', () => {
    expect(reconnectBackoffWithin(60_000)).toEqual({ initialDelayMs: 500, maxDelayMs: 10_000 });
  });

  it('shortens both for the short grace periods of tests', () => {
    expect(reconnectBackoffWithin(2_000)).toEqual({ initialDelayMs: 500, maxDelayMs: 555 });
    expect(reconnectBackoffWithin(600)).toEqual({ initialDelayMs: 166, maxDelayMs: 166 });
  });
});

/** Exponential backoff: the nominal wait doubles from `initialDelayMs` per attempt up to `maxDelayMs`. */
export interface BackoffOptions {
  initialDelayMs: number;
  maxDelayMs: number;
  /**
   * The drawn wait is the nominal one times a factor spread evenly over `[low, high]`, so that many
   * processes cut off together do not retry in lockstep. Default `[1, 1]`: no jitter.
   */
  jitter?: readonly [low: number, high: number];
}

/**
 * The wait before retry `attempt` (0 for the first): `min(maxDelayMs, initialDelayMs · 2^attempt)`
 * times a jitter factor drawn with `random` (a number in [0, 1)), rounded to whole milliseconds.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  // Past 2^30 every realistic initial delay is far beyond any cap; the bound keeps the power finite.
  const nominal = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** Math.min(Math.max(attempt, 0), 30));
  const [low, high] = options.jitter ?? [1, 1];
  return Math.round(nominal * (low + random() * (high - low)));
}

import { setTimeout as delay } from 'node:timers/promises';

export interface PollOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Time between two looks. */
  intervalMs?: number;
  /** The failure message, computed when the deadline passes (show what was seen last). */
  describe: () => string;
}

/**
 * Calls `check` until it answers true or the deadline passes. `check` may throw to fail at once
 * (e.g. the task reached a state it can never leave).
 */
export async function pollUntil(check: () => boolean | Promise<boolean>, options: PollOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  for (;;) {
    if (await check()) return;
    if (Date.now() >= deadline) throw new Error(options.describe());
    await delay(interval);
  }
}

/**
 * Asserts that `check` stays true for the whole of `durationMs` (looking every `intervalMs`):
 * for "it must not happen" expectations, which no event can signal.
 */
export async function holdsFor(
  check: () => boolean | Promise<boolean>,
  durationMs: number,
  describe: () => string,
  intervalMs = 100,
): Promise<void> {
  const end = Date.now() + durationMs;
  for (;;) {
    if (!(await check())) throw new Error(describe());
    if (Date.now() >= end) return;
    await delay(intervalMs);
  }
}

/**
 * Rejects after `ms` unless `promise` settled first; `what` names what did not happen (a function
 * when it should show the state at the deadline, e.g. a log).
 */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string | (() => string)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${typeof what === 'function' ? what() : what}: not within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

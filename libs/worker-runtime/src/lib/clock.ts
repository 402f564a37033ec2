/** Cancels what a {@link Clock} scheduled. */
export type Cancel = () => void;

/**
 * Time as a worker runtime sees it: the system's, or a test's manual clock, so that leases,
 * maintenance loops and delays can be driven without waiting.
 */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `tick` every `ms` until cancelled; a tick's promise is the work it started. */
  every(ms: number, tick: () => Promise<void> | void): Cancel;
  /** Calls `fire` once after `ms` unless cancelled. */
  after(ms: number, fire: () => void): Cancel;
}

/** The system clock; its timers do not keep the process alive. */
export const systemClock: Clock = {
  now: () => Date.now(),
  every(ms, tick) {
    const timer = setInterval(() => void tick(), ms);
    timer.unref();
    return () => clearInterval(timer);
  },
  after(ms, fire) {
    const timer = setTimeout(fire, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Resolves after `ms` on `clock`. */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.after(ms, resolve));
}

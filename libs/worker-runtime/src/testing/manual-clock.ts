import { Cancel, Clock } from '../lib/clock';

interface Timer {
  at: number;
  /** Repeats every this many ms; undefined: fires once. */
  interval: number | undefined;
  fire: () => Promise<void> | void;
}

/**
 * A clock that moves only when a test advances it: intervals and delays fire in time order, and
 * `advance` waits for the work each tick started, so a test needs no sleep and no real timer.
 */
export class ManualClock implements Clock {
  private time: number;
  private readonly timers = new Set<Timer>();

  constructor(start = Date.parse('2026-01-01T00:00:00.000Z')) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  every(ms: number, tick: () => Promise<void> | void): Cancel {
    return this.schedule({ at: this.time + ms, interval: ms, fire: tick });
  }

  after(ms: number, fire: () => void): Cancel {
    return this.schedule({ at: this.time + ms, interval: undefined, fire });
  }

  /** How many timers and intervals are scheduled (for tests of clean-up). */
  get scheduled(): number {
    return this.timers.size;
  }

  /** Moves time on by `ms`, firing every timer due on the way in order and awaiting its work. */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.time = due.at;
      if (due.interval === undefined) this.timers.delete(due);
      else due.at += due.interval;
      await due.fire();
    }
    this.time = target;
  }

  private schedule(timer: Timer): Cancel {
    this.timers.add(timer);
    return () => void this.timers.delete(timer);
  }
}

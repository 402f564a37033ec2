import { appendFileSync } from 'node:fs';

/** One fault (or recovery from it) the chaos driver caused. */
export interface ChaosAction {
  /** ISO time. */
  at: string;
  /** Milliseconds since the log began. */
  t: number;
  kind: string;
  detail: string;
}

/** Every action with a timestamp, in memory and appended to a file as it happens. */
export class ActionLog {
  readonly actions: ChaosAction[] = [];
  readonly startedAt = Date.now();

  constructor(readonly file: string) {}

  record(kind: string, detail: string): ChaosAction {
    const now = Date.now();
    const action = { at: new Date(now).toISOString(), t: now - this.startedAt, kind, detail };
    this.actions.push(action);
    appendFileSync(this.file, `${format(action)}\n`);
    return action;
  }

  count(kind: string): number {
    return this.actions.filter((a) => a.kind === kind).length;
  }

  text(): string {
    return this.actions.map(format).join('\n');
  }
}

function format(action: ChaosAction): string {
  return `${action.at} +${(action.t / 1000).toFixed(1).padStart(6)}s ${action.kind.padEnd(15)} ${action.detail}`;
}

/** A small seeded PRNG (mulberry32), so that a run's choices can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

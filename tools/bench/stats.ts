import { TaskWire } from './rest';

/** The nearest-rank percentile (p in 0..100) of values sorted ascending; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export interface Distribution {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export function distribution(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p95: percentile(sorted, 95),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
  };
}

export interface TaskFigures {
  tasks: number;
  /** First start request (client clock) to the last completedAt (server clock, same machine). */
  elapsedMs: number;
  tasksPerSec: number;
  /** QUEUED → claimed (claimedAt − queuedAt). */
  queueToClaim: Distribution;
  /** Claimed → EXECUTED (completedAt − claimedAt): the worker's part, from its claim to the task's end. */
  claimToDone: Distribution;
  /** QUEUED → EXECUTED (completedAt − queuedAt). */
  queueToDone: Distribution;
  /** Tasks executed per worker id. */
  perWorker: Record<string, number>;
  /** Tasks that needed more than one attempt. */
  retried: number;
}

/** Every figure the run reports about the tasks, from their views (all EXECUTED). */
export function taskFigures(tasks: readonly TaskWire[], firstStartAt: number): TaskFigures {
  const at = (iso: string | null, field: string, task: TaskWire): number => {
    const ms = iso === null ? Number.NaN : Date.parse(iso);
    if (Number.isNaN(ms)) throw new Error(`task ${task.id} (${task.state}) has no ${field}`);
    return ms;
  };
  const queueToClaim: number[] = [];
  const claimToDone: number[] = [];
  const queueToDone: number[] = [];
  const perWorker: Record<string, number> = {};
  let lastCompleted = firstStartAt;
  let retried = 0;
  for (const task of tasks) {
    const queued = at(task.queuedAt, 'queuedAt', task);
    const claimed = at(task.claimedAt, 'claimedAt', task);
    const completed = at(task.completedAt, 'completedAt', task);
    queueToClaim.push(claimed - queued);
    claimToDone.push(completed - claimed);
    queueToDone.push(completed - queued);
    lastCompleted = Math.max(lastCompleted, completed);
    const worker = task.worker ?? '(none)';
    perWorker[worker] = (perWorker[worker] ?? 0) + 1;
    if (task.attempt > 1) retried++;
  }
  const elapsedMs = lastCompleted - firstStartAt;
  return {
    tasks: tasks.length,
    elapsedMs,
    tasksPerSec: elapsedMs > 0 ? (tasks.length * 1000) / elapsedMs : Number.NaN,
    queueToClaim: distribution(queueToClaim),
    claimToDone: distribution(claimToDone),
    queueToDone: distribution(queueToDone),
    perWorker,
    retried,
  };
}

/** Tasks that were QUEUED (not yet claimed) at each instant, sampled from the views: the backlog. */
export function peakBacklog(tasks: readonly TaskWire[]): number {
  return peakOverlap(tasks, (t) => t.queuedAt, (t) => t.claimedAt);
}

/** Tasks claimed and not yet completed at each instant: how many ran at once. */
export function peakConcurrency(tasks: readonly TaskWire[]): number {
  return peakOverlap(tasks, (t) => t.claimedAt, (t) => t.completedAt);
}

/** The most tasks inside [from, to) at one instant. */
function peakOverlap(tasks: readonly TaskWire[], from: (t: TaskWire) => string | null, to: (t: TaskWire) => string | null): number {
  const events: [number, number][] = [];
  for (const task of tasks) {
    const [a, b] = [from(task), to(task)];
    if (a && b) events.push([Date.parse(a), 1], [Date.parse(b), -1]);
  }
  // At equal times, ends count before beginnings.
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let current = 0;
  let peak = 0;
  for (const [, delta] of events) {
    current += delta;
    peak = Math.max(peak, current);
  }
  return peak;
}

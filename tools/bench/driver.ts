import { setTimeout as delay } from 'node:timers/promises';
import { call, TaskWire } from './rest';

/** What the driver has done so far, read by the progress line. */
export interface Progress {
  created: number;
  started: number;
  /** Tasks seen EXECUTED (the walk's position: a lower bound). */
  done: number;
}

/**
 * How tasks arrive. `burst`: `concurrency` lanes each create then start task after task;
 * `rate`: open loop, task i is created and started at `i / perSec` seconds whatever happened to
 * the others; `precreated`: every task is created first (not timed), then started by
 * `concurrency` lanes, so that only dispatch and execution are measured.
 */
export type Arrival = { kind: 'burst'; concurrency: number } | { kind: 'rate'; perSec: number } | { kind: 'precreated'; concurrency: number };

export interface PushResult {
  /** Epoch ms just before the first start request left. */
  firstStartAt: number;
  /** Epoch ms when the last start request was answered. */
  lastStartedAt: number;
  /**
   * Round-trip times in ms: `createMs` of the create-and-start requests (burst, rate), `startMs` of
   * the start requests of precreated tasks.
   */
  createMs: number[];
  startMs: number[];
  /** Epoch ms at which task i's first timed request left (its create; its start when precreated). */
  submittedAt: number[];
  /** Open loop only: how late the latest task was sent against its schedule (the bench's own lag), in ms. */
  maxLagMs: number;
}

/**
 * Creates (with `create`) and starts `ids.length` tasks, task i on master i mod M, writing task
 * i's id into `ids[i]` as soon as it is known. The first failed request ends the push.
 */
export async function pushTasks(
  masters: string[],
  ids: string[],
  arrival: Arrival,
  create: (base: string, start: boolean) => Promise<string>,
  progress: Progress,
): Promise<PushResult> {
  const count = ids.length;
  const result: PushResult = { firstStartAt: 0, lastStartedAt: 0, createMs: [], startMs: [], submittedAt: new Array(count), maxLagMs: 0 };
  const master = (i: number) => masters[i % masters.length];

  // Burst and open-loop arrivals create and start a task in one request (`start: true`), as the
  // CLI does; precreated tasks are created first (not timed) and then started one by one.
  const createOne = async (i: number, start: boolean) => {
    if (start && result.firstStartAt === 0) result.firstStartAt = Date.now();
    const sent = performance.now();
    ids[i] = await create(master(i), start);
    if (!start) {
      progress.created++;
      return;
    }
    result.createMs.push(performance.now() - sent);
    progress.created++;
    progress.started++;
    result.lastStartedAt = Date.now();
  };
  const startOne = async (i: number) => {
    if (result.firstStartAt === 0) result.firstStartAt = Date.now();
    const sent = performance.now();
    await call<TaskWire>(master(i), 'POST', `/tasks/${encodeURIComponent(ids[i])}/start`);
    result.startMs.push(performance.now() - sent);
    progress.started++;
    result.lastStartedAt = Date.now();
  };
  const submit = async (i: number) => {
    result.submittedAt[i] = Date.now();
    if (arrival.kind === 'precreated') await startOne(i);
    else await createOne(i, true);
  };

  if (arrival.kind === 'burst') await inLanes(count, arrival.concurrency, submit);
  else if (arrival.kind === 'precreated') {
    await inLanes(count, arrival.concurrency, (i) => createOne(i, false));
    await inLanes(count, arrival.concurrency, submit);
  } else {
    const began = performance.now();
    const inFlight: Promise<void>[] = [];
    let failed = false;
    for (let i = 0; i < count && !failed; i++) {
      const due = began + (i * 1000) / arrival.perSec;
      const wait = due - performance.now();
      // A timer to the next due time: arrivals keep their schedule however slow the answers are.
      if (wait > 1) await delay(wait);
      result.maxLagMs = Math.max(result.maxLagMs, performance.now() - due);
      inFlight.push(submit(i).catch((error: unknown) => ((failed = true), Promise.reject(error))));
    }
    const outcomes = await Promise.allSettled(inFlight);
    const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (rejected) throw rejected.reason;
  }
  return result;
}

/** Runs `job(0..count-1)` with at most `concurrency` in flight; the first failure ends it and is thrown. */
export async function inLanes(count: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: { error: unknown } | undefined;
  const lane = async () => {
    while (failed === undefined && next < count) {
      const i = next++;
      try {
        await job(i);
      } catch (error) {
        failed ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  if (failed) throw failed.error;
}

/** Task states a task does not leave by itself: waiting longer for one of them is pointless. */
const RESTING = new Set(['EXECUTED', 'FAILED', 'STOPPED', 'ABORTED', 'CANCELLED', 'DONE']);

export interface WaitResult {
  /** Every bench task, read once all were EXECUTED. */
  tasks: TaskWire[];
  /** REST reads the watching took (per-task reads plus the final list): the load it added. */
  reads: number;
}

/**
 * Waits until every task in `ids` (filled in by the push as tasks are created) is EXECUTED, and
 * answers them all. Watching must not load the masters it measures, so it does not list every
 * task every second: it walks the tasks in the order they were started with `GET
 * /api/v1/tasks/{id}` (tasks finish roughly in that order), moving on past every task that rests
 * and looking again 200 ms later at the first one that does not; `progress.done` is how far the
 * walk got. At the end of the walk one `GET /api/v1/tasks?state=EXECUTED` reads them all.
 * Fails at once when a task rests in another state, when the push failed (`push().failed`),
 * and at the deadline.
 */
export async function waitUntilExecuted(
  masters: string[],
  ids: readonly string[],
  deadline: number,
  progress: Progress,
  push: () => { done: boolean; failed: boolean },
): Promise<WaitResult> {
  let reads = 0;
  let cursor = 0;
  let last: TaskWire | undefined;
  for (;;) {
    if (push().failed) throw new Error('the push failed');
    while (cursor < ids.length && ids[cursor] !== undefined) {
      last = await call<TaskWire>(masters[reads++ % masters.length], 'GET', `/tasks/${encodeURIComponent(ids[cursor])}`);
      if (!RESTING.has(last.state)) break;
      if (last.state !== 'EXECUTED') {
        throw new Error(`task ${last.id} ended ${last.state}${last.failure ? `: ${last.failure}` : ''} (attempt ${last.attempt}, worker ${last.worker})`);
      }
      cursor++;
      progress.done = cursor;
    }
    if (cursor === ids.length && push().done) break;
    if (Date.now() > deadline) {
      throw new Error(
        `not every task was EXECUTED before the deadline: ${cursor} of ${ids.length} were` +
          (last ? `; task ${last.id} is still ${last.state}` : ''),
      );
    }
    await delay(200);
  }
  // Lists are paged (spec §6): read every page.
  const executed: TaskWire[] = [];
  let page: string | null = null;
  do {
    const query: string = `/tasks?state=EXECUTED&limit=1000${page ? `&cursor=${page}` : ''}`;
    const answer: { items: TaskWire[]; nextCursor: string | null } = await call(masters[reads++ % masters.length], 'GET', query);
    executed.push(...answer.items);
    page = answer.nextCursor;
  } while (page !== null);
  const wanted = new Set(ids);
  const tasks = executed.filter((task) => wanted.has(task.id));
  if (tasks.length !== ids.length) {
    throw new Error(`GET /tasks?state=EXECUTED lists ${tasks.length} of the ${ids.length} tasks, each of which was seen EXECUTED`);
  }
  return { tasks, reads };
}

export function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

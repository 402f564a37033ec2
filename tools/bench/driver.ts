import { setTimeout as delay } from 'node:timers/promises';
import { call, TaskWire } from './rest';
import type { Progress } from './watch';

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

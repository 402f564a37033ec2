import { setTimeout as delay } from 'node:timers/promises';
import { call, TaskWire } from './rest';

/** The host every bench task checks: `local` runs in the worker process, nothing leaves the machine. */
export const BENCH_HOST = 'bench-local';

/** What the driver has done so far, read by the progress line. */
export interface Progress {
  created: number;
  started: number;
  /** Tasks seen EXECUTED (the walk's position: a lower bound). */
  done: number;
}

export interface PushResult {
  /** Epoch ms just before the first start request left. */
  firstStartAt: number;
  /** Epoch ms when the last start request was answered. */
  lastStartedAt: number;
  /** Round-trip times of the create and the start requests, in ms. */
  createMs: number[];
  startMs: number[];
}

/** `PUT /hosts/bench-local` (type `local`): the target of every task. */
export async function createBenchHost(base: string): Promise<void> {
  await call(base, 'PUT', `/hosts/${BENCH_HOST}`, { type: 'local' });
}

/**
 * Creates and starts `ids.length` one-step control tasks (`checkConnection` on the bench host),
 * task i on master i mod M, with `concurrency` tasks in flight (each: create, then start on the
 * same master), writing task i's id into `ids[i]` as soon as it is known. The first failed
 * request ends the push.
 */
export async function pushTasks(masters: string[], ids: string[], concurrency: number, progress: Progress): Promise<PushResult> {
  const count = ids.length;
  const createMs: number[] = [];
  const startMs: number[] = [];
  let firstStartAt = 0;
  let lastStartedAt = 0;
  let next = 0;
  let failed: unknown;

  const lane = async () => {
    while (failed === undefined && next < count) {
      const i = next++;
      const base = masters[i % masters.length];
      try {
        let sent = performance.now();
        const created = await call<{ taskId: string }>(base, 'POST', '/control-tasks', { target: BENCH_HOST, control: 'checkConnection' });
        createMs.push(performance.now() - sent);
        progress.created++;
        ids[i] = created.taskId;
        if (firstStartAt === 0) firstStartAt = Date.now();
        sent = performance.now();
        await call<TaskWire>(base, 'POST', `/tasks/${encodeURIComponent(created.taskId)}/start`);
        startMs.push(performance.now() - sent);
        progress.started++;
        lastStartedAt = Date.now();
      } catch (error) {
        failed ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  if (failed !== undefined) throw failed;
  return { firstStartAt, lastStartedAt, createMs, startMs };
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

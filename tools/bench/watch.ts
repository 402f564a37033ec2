import { setTimeout as delay } from 'node:timers/promises';
import { Client } from 'pg';
import { call, TaskWire } from './rest';

/** What the driver has done so far, read by the progress line. */
export interface Progress {
  created: number;
  started: number;
  /** Tasks seen EXECUTED (a lower bound). */
  done: number;
}

/** Where the bench learns that tasks are EXECUTED: see {@link Watcher}. */
export type WatchKind = 'database' | 'rest';

/** The database the launched cluster runs on: what a database watcher reads. */
export interface WatchedDatabase {
  url: string;
  schema: string;
}

/** Task states a task does not leave by itself: waiting longer for one of them is pointless. */
const RESTING = new Set(['EXECUTED', 'FAILED', 'STOPPED', 'ABORTED', 'CANCELLED', 'DONE']);

/** How the push is doing, for a watcher that must stop when it failed and may end once it is done. */
export type PushState = () => { done: boolean; failed: boolean };

/**
 * Waits until every bench task is EXECUTED. Watching is not the engine's work, yet it runs while
 * CPU is counted, so it must cost the measured processes as little as it can:
 * - `database` (the default when the bench launched the cluster): one `SELECT` of the tasks not
 *   yet EXECUTED every 100 ms on the cluster's PostgreSQL schema, whatever the number of tasks;
 * - `rest` (the only choice with `--attach`): the REST walk of {@link RestWatcher}, one
 *   `GET /tasks/{id}` per task, as a client polling its own tasks would.
 */
export interface Watcher {
  readonly kind: WatchKind;
  /** Resolves once every task of `ids` (filled in by the push) is EXECUTED; fails at once when one rests in another state. */
  waitUntilExecuted(ids: readonly string[], deadline: number, progress: Progress, push: PushState): Promise<void>;
  /** Reads the watching took so far (REST requests or database queries): the load it added. */
  readonly reads: number;
  close(): Promise<void>;
}

/** A rest state other than EXECUTED ends the run: the bench measures tasks that succeed. */
function failedTask(task: { id: string; state: string; failure: string | null; attempt?: number; worker?: string | null }): Error {
  const where = task.attempt === undefined ? '' : ` (attempt ${task.attempt}, worker ${task.worker})`;
  return new Error(`task ${task.id} ended ${task.state}${task.failure ? `: ${task.failure}` : ''}${where}`);
}

function deadlinePassed(done: number, count: number, still?: { id: string; state: string }): Error {
  return new Error(
    `not every task was EXECUTED before the deadline: ${done} of ${count} were` + (still ? `; task ${still.id} is still ${still.state}` : ''),
  );
}

/**
 * Walks the tasks in the order they were started with `GET /api/v1/tasks/{id}` (tasks finish
 * roughly in that order), moving on past every task that rests and looking again 200 ms later at
 * the first one that does not; `progress.done` is how far the walk got.
 */
export class RestWatcher implements Watcher {
  readonly kind = 'rest';
  reads = 0;

  constructor(private readonly masters: string[]) {}

  async waitUntilExecuted(ids: readonly string[], deadline: number, progress: Progress, push: PushState): Promise<void> {
    let cursor = 0;
    let last: TaskWire | undefined;
    for (;;) {
      if (push().failed) throw new Error('the push failed');
      while (cursor < ids.length && ids[cursor] !== undefined) {
        last = await call<TaskWire>(this.masters[this.reads++ % this.masters.length], 'GET', `/tasks/${encodeURIComponent(ids[cursor])}`);
        if (!RESTING.has(last.state)) break;
        if (last.state !== 'EXECUTED') throw failedTask(last);
        cursor++;
        progress.done = cursor;
      }
      if (cursor === ids.length && push().done) return;
      if (Date.now() > deadline) throw deadlinePassed(cursor, ids.length, last);
      await delay(200);
    }
  }

  async close(): Promise<void> {}
}

/**
 * Asks the cluster's PostgreSQL schema, every 100 ms, which of the tasks created so far are not
 * EXECUTED yet: one small query per look instead of one REST request (and its authentication,
 * task read and audit read) per task.
 */
export class DatabaseWatcher implements Watcher {
  readonly kind = 'database';
  reads = 0;

  private constructor(
    private readonly client: Client,
    private readonly table: string,
  ) {}

  static async open(database: WatchedDatabase): Promise<DatabaseWatcher> {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    return new DatabaseWatcher(client, `"${database.schema.replace(/"/g, '""')}".tasks`);
  }

  async waitUntilExecuted(ids: readonly string[], deadline: number, progress: Progress, push: PushState): Promise<void> {
    for (;;) {
      if (push().failed) throw new Error('the push failed');
      const pushed = push().done;
      const known = ids.filter((id) => id !== undefined);
      this.reads++;
      const { rows } = await this.client.query<{ id: string; state: string; failure: string | null }>(
        `SELECT id, state, failure FROM ${this.table} WHERE id = ANY($1::text[]) AND state <> 'EXECUTED'`,
        [known],
      );
      const rested = rows.find((row) => RESTING.has(row.state));
      if (rested) throw failedTask(rested);
      progress.done = known.length - rows.length;
      if (pushed && rows.length === 0 && known.length === ids.length) return;
      if (Date.now() > deadline) throw deadlinePassed(progress.done, ids.length, rows[0]);
      await delay(100);
    }
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/**
 * Reads every bench task once they are all EXECUTED, through the list endpoint (paged, spec §6):
 * after the CPU of the phase is sampled, so that this one big read is not counted as the tasks' cost.
 */
export async function readExecuted(masters: string[], ids: readonly string[]): Promise<TaskWire[]> {
  const executed: TaskWire[] = [];
  let page: string | null = null;
  let reads = 0;
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
  return tasks;
}

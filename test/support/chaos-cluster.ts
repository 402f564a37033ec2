/**
 * What the chaos test (test/chaos) needs on top of test/support/cluster.ts: workers that can be
 * SIGKILLed and started again on the same work directory, a REST client that survives masters
 * being killed, a broker virtual host of its own whose connections can be dropped with
 * `rabbitmqctl`, a timestamped log of every fault, and the chaos ledger's lines.
 *
 * Like cluster.ts it imports no test framework and no `@shipdeck/*` alias.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Cluster, ClusterMaster, ExitStatus, TEST_AMQP_URL, WorkerProcess, redactUrl, startWorker } from './cluster';
import { pollUntil } from './poll';

const execFileAsync = promisify(execFile);

/** The chaos ledger test plugin (test/chaos/fixtures/plugins/chaos-ledger). */
export const CHAOS_LEDGER_PLUGIN_DIR = join(__dirname, '..', 'chaos', 'fixtures', 'plugins', 'chaos-ledger');

// ---- broker

/** `rabbitmqctl ARGS…` on this machine (a few seconds per call); fails saying what it needs. */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  try {
    return (await execFileAsync('rabbitmqctl', args, { timeout: 60_000 })).stdout;
  } catch (error) {
    throw new Error(
      `\`rabbitmqctl ${args.join(' ')}\` failed (${messageOf(error)}); the chaos test needs rabbitmqctl for the broker at ` +
        `${redactUrl(TEST_AMQP_URL)} on this machine, run by a user allowed to use it`,
    );
  }
}

/** A RabbitMQ virtual host of the test's own, so that dropping connections hits nobody else. */
export interface Vhost {
  name: string;
  /** `base` pointing at this virtual host. */
  url: string;
  /** Deletes the virtual host (its queues and connections go with it). */
  drop(): Promise<void>;
}

export async function createVhost(base = TEST_AMQP_URL): Promise<Vhost> {
  const name = `shipdeck-chaos-${randomUUID()}`;
  const user = decodeURIComponent(new URL(base).username) || 'guest';
  await rabbitmqctl('add_vhost', name);
  try {
    await rabbitmqctl('set_permissions', '-p', name, user, '.*', '.*', '.*');
  } catch (error) {
    await rabbitmqctl('delete_vhost', name).catch(() => undefined);
    throw error;
  }
  const url = new URL(base);
  url.pathname = `/${encodeURIComponent(name)}`;
  return { name, url: url.href, drop: async () => void (await rabbitmqctl('delete_vhost', name)) };
}

/** `rabbitmqctl close_all_connections -p VHOST REASON`; answers how many connections it closed. */
export async function dropBrokerConnections(vhost: string, reason: string): Promise<number> {
  const output = await rabbitmqctl('close_all_connections', '-p', vhost, reason);
  const closed = /Closed (\d+) connections?/.exec(output);
  if (!closed) throw new Error(`rabbitmqctl close_all_connections answered something unexpected:\n${output}`);
  return Number(closed[1]);
}

// ---- fault log

/** One fault (or recovery from it) the driver caused. */
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

// ---- workers on a fixed work directory

/**
 * The SHIPDECK_* environment of a worker of `cluster`, as startCluster gives its own workers
 * (home, cluster mode, database schema, broker and queue, export dir), plus `extra`.
 */
export function clusterWorkerEnv(cluster: Cluster, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SHIPDECK_HOME: cluster.home,
    SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
    SHIPDECK_DB_URL: cluster.databaseUrl,
    SHIPDECK_TASK_QUEUE_URL: cluster.amqpUrl,
    SHIPDECK_TASK_QUEUE_NAME: cluster.queueName,
    SHIPDECK_EXPORT_DIR: join(cluster.root, 'export'),
    ...extra,
  };
}

/**
 * One worker identity (name, work directory, worker id) across process incarnations: it can be
 * killed and started again on the same work directory, where it finds its recovery files. Every
 * incarnation appends to the same log file.
 */
export class ChaosWorker {
  /** Every process started, oldest first. */
  readonly incarnations: WorkerProcess[] = [];

  constructor(
    readonly name: string,
    readonly workDir: string,
    readonly logFile: string,
    private readonly options: { home: string; env: Record<string, string>; masters: () => string[] },
  ) {}

  get current(): WorkerProcess | undefined {
    return this.incarnations[this.incarnations.length - 1];
  }

  /** Whether the current process runs. */
  get alive(): boolean {
    return this.current !== undefined && this.current.status === undefined;
  }

  /** The worker id kept in the work directory. */
  get id(): string | undefined {
    return this.current?.id;
  }

  /** Starts a process on the work directory and waits until it consumes; `api` is a live master. */
  async start(api: string): Promise<WorkerProcess> {
    if (this.alive) throw new Error(`${this.name} (pid ${this.current?.pid}) still runs`);
    const worker = await startWorker({
      home: this.options.home,
      api,
      masters: this.options.masters(),
      name: this.name,
      workDir: this.workDir,
      env: this.options.env,
      logFile: this.logFile,
      readyTimeoutMs: 60_000,
    });
    this.incarnations.push(worker);
    return worker;
  }

  /** Signals the current process and waits for its exit (at once when none runs). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus | undefined> {
    const current = this.current;
    if (!current || current.status) return current?.status;
    return current.kill(signal);
  }

  /**
   * Waits until the log file holds the exit line of the last incarnation: everything it wrote
   * before is in the file then.
   */
  async logComplete(timeoutMs = 10_000): Promise<void> {
    const last = this.current;
    if (!last) return;
    if (!last.status) throw new Error(`${this.name} (pid ${last.pid}) still runs`);
    const marker = `process ${last.pid} exited`;
    await pollUntil(() => existsSync(this.logFile) && readFileSync(this.logFile, 'utf8').includes(marker), {
      timeoutMs,
      intervalMs: 50,
      describe: () => `${this.logFile} lacks "${marker}" after ${timeoutMs} ms`,
    });
  }

  /** Lines of the log file (all incarnations) matching `pattern`. */
  logLines(pattern: RegExp): string[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((l) => pattern.test(l));
  }
}

// ---- REST over masters that come and go

/** A request got no HTTP answer (connection refused or reset, timeout): it may or may not have been applied. */
export class NoAnswerError extends Error {}

export interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
  /** Index of the master that answered. */
  master: number;
}

const REQUEST_TIMEOUT_MS = 20_000;

/**
 * One HTTP request on a connection of its own (no keep-alive: a socket kept from before a master
 * restart must not make a request fail or, worse, leave it unclear whether it was sent).
 */
function httpJson(url: string, method: string, body: unknown): Promise<{ status: number; text: string; body: unknown }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      {
        method,
        agent: false,
        timeout: REQUEST_TIMEOUT_MS,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('error', (error) => reject(new NoAnswerError(`${method} ${url}: ${error.message}`)));
        res.on('end', () => {
          let parsed: unknown = text;
          if ((res.headers['content-type'] ?? '').includes('json') && text !== '') {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = text;
            }
          }
          resolve({ status: res.statusCode ?? 0, text, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (error) => reject(new NoAnswerError(`${method} ${url}: ${error.message}`)));
    req.end(payload);
  });
}

/**
 * The REST API of a cluster's masters while the chaos driver kills and restarts them. A master
 * marked down gets no new requests; {@link MasterPool.markDown} waits for the non-idempotent ones
 * (task creation) in flight there, so that every created task is known to the test.
 */
export class MasterPool {
  private readonly up: boolean[];
  private readonly creating: Set<Promise<unknown>>[];

  constructor(private readonly masters: ClusterMaster[]) {
    this.up = masters.map(() => true);
    this.creating = masters.map(() => new Set());
  }

  get size(): number {
    return this.masters.length;
  }

  isUp(index: number): boolean {
    return this.up[index];
  }

  /** A live master's URL, `prefer` when it is up. */
  liveUrl(prefer = 0): string {
    return this.masters[this.pick(prefer)].url;
  }

  /** Takes a master out of rotation and waits (at most `timeoutMs`) for task creations in flight there. */
  async markDown(index: number, timeoutMs = 20_000): Promise<void> {
    if (this.up.filter(Boolean).length < 2) throw new Error('refusing to take the last live master out of rotation');
    this.up[index] = false;
    const pending = [...this.creating[index]];
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(pending),
      new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }

  markUp(index: number): void {
    this.up[index] = true;
  }

  /** One request to `prefer` (or another live master); NoAnswerError when none came. */
  async once<T>(method: string, path: string, body?: unknown, prefer = 0): Promise<Answer<T>> {
    const index = this.pick(prefer);
    const answer = await httpJson(`${this.masters[index].url}/api/v1${path}`, method, body);
    return { ...answer, body: answer.body as T, master: index };
  }

  /**
   * A task creation: not idempotent, so it is never retried, and the master it goes to is not
   * killed before it is answered.
   */
  create<T>(path: string, body: unknown, prefer: number): Promise<Answer<T>> {
    const index = this.pick(prefer);
    const promise = httpJson(`${this.masters[index].url}/api/v1${path}`, 'POST', body).then((answer) => ({
      ...answer,
      body: answer.body as T,
      master: index,
    }));
    const set = this.creating[index];
    set.add(promise);
    void promise.then(
      () => set.delete(promise),
      () => set.delete(promise),
    );
    return promise;
  }

  /** A GET, retried on any live master until it is answered below 500 or `timeoutMs` passes. */
  async get<T>(path: string, timeoutMs = 30_000, prefer = 0): Promise<Answer<T>> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await this.once<T>('GET', path, undefined, prefer + attempt);
        if (answer.status < 500) return answer;
        last = `HTTP ${answer.status} ${answer.text.slice(0, 300)}`;
      } catch (error) {
        if (!(error instanceof NoAnswerError)) throw error;
        last = error.message;
      }
      if (Date.now() > deadline) throw new Error(`GET ${path}: no answer from any master within ${timeoutMs} ms (last: ${last})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  private pick(prefer: number): number {
    const n = this.masters.length;
    for (let i = 0; i < n; i++) {
      const index = (((prefer + i) % n) + n) % n;
      if (this.up[index]) return index;
    }
    throw new Error('no master is in rotation');
  }
}

// ---- the chaos ledger

/** One line of the chaos ledger: a step execution began, or finished. */
export interface ChaosLedgerLine {
  kind: 'begin' | 'done';
  taskId: string;
  step: string;
  pid: number;
  /** The engine's start time of this execution of the step. */
  startedAt: string;
}

export function readChaosLedger(file: string): ChaosLedgerLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [kind, taskId, step, pid, startedAt, ...rest] = line.split(' ');
      if ((kind !== 'begin' && kind !== 'done') || !taskId || !step || !/^\d+$/.test(pid ?? '') || !startedAt || rest.length > 0) {
        throw new Error(`malformed chaos ledger line in ${file}: "${line}"`);
      }
      return { kind, taskId, step, pid: Number(pid), startedAt };
    });
}

// ---- small things

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

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

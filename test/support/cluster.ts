/**
 * A Shipdeck cluster of real processes (spec §3): `shipdeck master` processes and `shipdeck
 * worker` processes sharing one PostgreSQL schema and one broker queue, all started from this
 * repository's `bin/shipdeck.js` on one shared temporary installation directory.
 *
 * For integration tests and benchmark scripts alike: this module imports no test framework and
 * no `@shipdeck/*` alias (only Node, npm packages and sibling files), so a plain script can use it.
 *
 * ```ts
 * await requireServices();                       // fails saying what to start when a service is down
 * const cluster = await startCluster({ masters: 2, workers: 3, env: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '4' } });
 * try {
 *   // cluster.masters[0].url is a REST endpoint; cluster.workers[i].pid executes tasks…
 * } finally {
 *   await cluster.stop();                        // processes, schema, queue, temporary files
 * }
 * ```
 *
 * Every process's output is kept in memory (the last lines) and written in full to
 * `<cluster.root>/logs/<name>.log`; `SHIPDECK_E2E_KEEP=1` keeps the directory after `stop()`.
 */
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  WriteStream,
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { connect as connectAmqp091 } from 'amqplib';
import { Client } from 'pg';
import { create_container } from 'rhea';
import { REPO_ROOT, freePort } from './master-process';
import { pollUntil } from './poll';

// ---- services

/** The PostgreSQL database clusters create their schema in (`SHIPDECK_TEST_DATABASE_URL`). */
export const TEST_DATABASE_URL = process.env.SHIPDECK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The RabbitMQ (AMQP 1.0 plugin enabled) clusters create their queue on (`SHIPDECK_TEST_AMQP_URL`). */
export const TEST_AMQP_URL = process.env.SHIPDECK_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

/** The ledger test plugin (test/fixtures/plugins/ledger): `ledger` hosts with control `record`, CI type `test.Ledger`. */
export const LEDGER_PLUGIN_DIR = join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'ledger');

const SERVICE_CHECK_TIMEOUT_MS = 5_000;

/** A URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Checks that PostgreSQL and the broker (AMQP 0-9-1 to declare queues, AMQP 1.0 for Shipdeck)
 * answer, and fails with one message saying what to start or set when they do not. Never skips.
 */
export async function requireServices(options: { databaseUrl?: string; amqpUrl?: string } = {}): Promise<void> {
  const databaseUrl = options.databaseUrl ?? TEST_DATABASE_URL;
  const amqpUrl = options.amqpUrl ?? TEST_AMQP_URL;
  const problems: string[] = [];

  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: SERVICE_CHECK_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    problems.push(
      `PostgreSQL is not reachable at ${redactUrl(databaseUrl)} (${messageOf(error)}). Start it (here: ` +
        '`pg_ctlcluster --skip-systemctl-redirect 15 main start`) or set SHIPDECK_TEST_DATABASE_URL to a database ' +
        'in which these tests may create and drop schemas.',
    );
  } finally {
    await client.end().catch(() => undefined);
  }

  const fix =
    'Start RabbitMQ (`rabbitmq-server -detached`) with its AMQP 1.0 plugin (`rabbitmq-plugins enable rabbitmq_amqp1_0`), ' +
    'or set SHIPDECK_TEST_AMQP_URL to a RabbitMQ 3.10+ that has it.';
  try {
    const connection = await connectAmqp091(amqpUrl, { timeout: SERVICE_CHECK_TIMEOUT_MS });
    await connection.close();
  } catch (error) {
    problems.push(`RabbitMQ does not accept AMQP 0-9-1 at ${redactUrl(amqpUrl)} (${messageOf(error)}). ${fix}`);
  }
  if (problems.length === 0) {
    const amqp10 = await probeAmqp10(amqpUrl);
    if (amqp10) problems.push(`RabbitMQ at ${redactUrl(amqpUrl)} does not speak AMQP 1.0 (${amqp10}). ${fix}`);
  }
  if (problems.length > 0) throw new Error(`integration test services are missing:\n- ${problems.join('\n- ')}`);
}

/** Opens and closes an AMQP 1.0 connection; answers why it failed, or undefined. */
function probeAmqp10(url: string): Promise<string | undefined> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const container = create_container({ id: `shipdeck-probe-${randomUUID()}` });
    container.on('error', () => undefined);
    const connection = container.connect({
      host: parsed.hostname,
      port: Number(parsed.port || 5672),
      username: decodeURIComponent(parsed.username) || undefined,
      password: decodeURIComponent(parsed.password) || undefined,
      reconnect: false,
    });
    let done = false;
    const finish = (problem: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      connection.close();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(`no AMQP 1.0 open frame within ${SERVICE_CHECK_TIMEOUT_MS} ms`), SERVICE_CHECK_TIMEOUT_MS);
    connection.on('connection_open', () => finish(undefined));
    connection.on('connection_error', (context) => finish(String(context.connection.error?.description ?? 'connection error')));
    connection.on('disconnected', (context) => finish(String(context.error ?? 'disconnected')));
  });
}

/** `base` with `?schema=NAME` (Shipdeck's PostgreSQL URLs select, and masters create, that schema). */
export function databaseUrlWithSchema(schema: string, base = TEST_DATABASE_URL): string {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** Drops a schema and everything in it; a missing schema is fine. */
export async function dropSchema(schema: string, base = TEST_DATABASE_URL): Promise<void> {
  const client = new Client({ connectionString: base, connectionTimeoutMillis: SERVICE_CHECK_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Deletes a queue (a missing one is fine) over AMQP 0-9-1. */
export async function deleteQueue(queueName: string, url = TEST_AMQP_URL): Promise<void> {
  const connection = await connectAmqp091(url, { timeout: SERVICE_CHECK_TIMEOUT_MS });
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await channel.deleteQueue(queueName);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** What the broker says of a queue over AMQP 0-9-1: messages ready (not delivered) and consumers. */
export async function queueStatus(queueName: string, url = TEST_AMQP_URL): Promise<{ ready: number; consumers: number }> {
  const connection = await connectAmqp091(url, { timeout: SERVICE_CHECK_TIMEOUT_MS });
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    const ok = await channel.checkQueue(queueName);
    return { ready: ok.messageCount, consumers: ok.consumerCount };
  } finally {
    await connection.close().catch(() => undefined);
  }
}

const execFileAsync = promisify(execFile);

/**
 * Ready and unacknowledged (delivered, not settled) messages of a queue, from `rabbitmqctl
 * list_queues` (AMQP 0-9-1 cannot tell unacknowledged messages). Needs rabbitmqctl for the broker
 * on this machine; fails saying so. Slow (a second or more per call): poll it sparingly.
 */
export async function queueCounts(queueName: string, url = TEST_AMQP_URL): Promise<{ ready: number; unacked: number }> {
  const vhost = decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || '/';
  let stdout: string;
  try {
    ({ stdout } = await execFileAsync(
      'rabbitmqctl',
      ['list_queues', '-q', '-p', vhost, '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged'],
      { timeout: 60_000 },
    ));
  } catch (error) {
    throw new Error(
      `\`rabbitmqctl list_queues\` failed (${messageOf(error)}); this check needs rabbitmqctl for the broker at ` +
        `${redactUrl(url)} on this machine, run by a user allowed to use it`,
    );
  }
  for (const line of stdout.split('\n')) {
    const [name, ready, unacked] = line.trim().split(/\s+/);
    if (name === queueName) return { ready: Number(ready), unacked: Number(unacked) };
  }
  throw new Error(`rabbitmqctl list_queues does not list queue ${queueName}:\n${stdout}`);
}

// ---- processes

/** How a process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const OUTPUT_LINES = 20_000;
const STOP_GRACE_MS = 10_000;
const MASTER_READY_TIMEOUT_MS = 30_000;
const WORKER_READY_TIMEOUT_MS = 30_000;
/** The line a worker logs once it consumes (after `worker NEW -> RUNNING` and the consumer's attach). */
const WORKER_STARTED = /Shipdeck worker \S+ started/;

/** A process's output: the last lines in memory, everything in a log file when one is given. */
class OutputLog {
  private readonly lines: string[] = [];
  private readonly partial: Record<string, string> = {};
  private file?: WriteStream;

  constructor(logFile?: string) {
    if (logFile) this.file = createWriteStream(logFile, { flags: 'a' });
  }

  write(stream: 'out' | 'err', chunk: Buffer): void {
    this.file?.write(chunk);
    const text = (this.partial[stream] ?? '') + chunk.toString();
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const line of parts) this.push(stream === 'err' ? `[err] ${line}` : line);
  }

  mark(text: string): void {
    this.file?.write(`---- ${text}\n`);
    this.push(`---- ${text}`);
  }

  /** Whether a line (complete or not) matches. */
  has(pattern: RegExp): boolean {
    return this.lines.some((l) => pattern.test(l)) || Object.values(this.partial).some((l) => pattern.test(l));
  }

  text(): string {
    const pending = Object.values(this.partial).filter((v) => v !== '');
    return [...this.lines, ...pending].join('\n');
  }

  close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    return new Promise((resolve) => (file ? file.end(resolve) : resolve()));
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > OUTPUT_LINES) this.lines.splice(0, this.lines.length - OUTPUT_LINES);
  }
}

/** One spawned `node bin/shipdeck.js ROLE …`. */
class Spawned {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;

  constructor(args: string[], env: NodeJS.ProcessEnv, readonly log: OutputLog) {
    this.child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'shipdeck.js'), ...args], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    this.child.stdout?.on('data', (chunk: Buffer) => log.write('out', chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => log.write('err', chunk));
    this.exited = new Promise((resolve) => {
      // Resolved at 'close', when the output is complete; a descendant still holding the pipes
      // (a command in its own process group) must not delay it more than a moment.
      let exit: ExitStatus | undefined;
      const finish = () => {
        if (this.status || !exit) return;
        this.status = exit;
        running.delete(this);
        log.mark(`process ${this.child.pid} exited: code=${exit.code} signal=${exit.signal}`);
        resolve(exit);
      };
      this.child.once('exit', (code, signal) => {
        exit = { code, signal };
        setTimeout(finish, 2_000).unref();
      });
      this.child.once('close', (code, signal) => {
        exit ??= { code, signal };
        finish();
      });
      this.child.once('error', (error) => {
        if (this.status) return;
        this.status = { code: null, signal: null };
        running.delete(this);
        log.mark(`process could not start: ${error.message}`);
        resolve(this.status);
      });
    });
    log.mark(`started process ${this.child.pid}: shipdeck ${args.join(' ')}`);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Sends `signal`, waits for the exit; SIGKILL when a gentler signal takes longer than `graceMs`. */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = STOP_GRACE_MS): Promise<ExitStatus> {
    if (this.status) return this.status;
    try {
      process.kill(this.pid, signal);
    } catch {
      // Gone already; 'close' follows.
    }
    const timer =
      signal === 'SIGKILL'
        ? undefined
        : setTimeout(() => {
            this.log.mark(`still running ${graceMs} ms after ${signal}: SIGKILL`);
            try {
              process.kill(this.pid, 'SIGKILL');
            } catch {
              // Gone meanwhile.
            }
          }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Every process started here and not yet ended: none may outlive the test run. */
const running = new Set<Spawned>();

process.once('exit', () => {
  for (const spawned of running) {
    try {
      process.kill(spawned.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** The parent's environment without any SHIPDECK_* variable: only what a cluster sets counts. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHIPDECK_')));
}

let built = false;

/**
 * Builds dist/ (tools/build.mjs) when dist/master.js or dist/worker.js is missing or older than a
 * source file under apps/ or libs/, so that a cluster never runs stale bundles.
 * `SHIPDECK_E2E_SKIP_BUILD=1` trusts dist/ as it is.
 */
export function ensureBundles(): void {
  if (built || process.env.SHIPDECK_E2E_SKIP_BUILD) return;
  const bundles = ['master', 'worker'].map((app) => join(REPO_ROOT, 'dist', `${app}.js`));
  const oldest = Math.min(...bundles.map((b) => (existsSync(b) ? statSync(b).mtimeMs : 0)));
  const newest = Math.max(...['apps', 'libs'].map((d) => newestSource(join(REPO_ROOT, d))));
  if (newest > oldest) {
    try {
      execFileSync(process.execPath, [join(REPO_ROOT, 'tools', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'pipe' });
    } catch (error) {
      const output = `${(error as { stdout?: Buffer }).stdout ?? ''}${(error as { stderr?: Buffer }).stderr ?? ''}`;
      throw new Error(`building dist/ (node tools/build.mjs) failed:\n${output || messageOf(error)}`);
    }
  }
  built = true;
}

function newestSource(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

// ---- installation directories

/**
 * A fresh installation directory (SHIPDECK_HOME) under `parent`: an empty `conf/`, and
 * `plugins/` holding the repository's plugins plus each directory of `extraPlugins` (copied as
 * `plugins/<its name>/`).
 */
export function makeClusterHome(parent: string, extraPlugins: string[] = [LEDGER_PLUGIN_DIR]): string {
  mkdirSync(parent, { recursive: true });
  const home = mkdtempSync(join(parent, 'home-'));
  const plugins = join(REPO_ROOT, 'plugins');
  if (existsSync(plugins)) cpSync(plugins, join(home, 'plugins'), { recursive: true });
  else mkdirSync(join(home, 'plugins'));
  for (const dir of extraPlugins) {
    if (!existsSync(join(dir, 'index.js'))) throw new Error(`test plugin ${dir} has no index.js`);
    const name = dir.replace(/\/+$/, '').split('/').pop() as string;
    cpSync(dir, join(home, 'plugins', name), { recursive: true });
  }
  mkdirSync(join(home, 'conf'), { recursive: true });
  return home;
}

// ---- workers

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Installation directory (SHIPDECK_HOME) of the worker. */
  home: string;
  /** `-api URL`: a master's REST endpoint. */
  api: string;
  /** `-master HOST:PORT` flags (command channel); none when empty. */
  masters?: string[];
  /** `-name`; also names the log file. */
  name: string;
  /** `-work-dir`; created when missing. */
  workDir: string;
  /** The whole SHIPDECK_* environment of the worker (nothing else SHIPDECK_* is inherited). */
  env: Record<string, string>;
  /** Where its full output goes; none when omitted. */
  logFile?: string;
  /**
   * `ready` (default): resolve once the worker logged that it started consuming (fail when it
   * exits first or takes longer than `readyTimeoutMs`); `spawned`: resolve at once, e.g. for a
   * worker that must refuse to start.
   */
  wait?: 'ready' | 'spawned';
  readyTimeoutMs?: number;
}

/** A `shipdeck worker` process. */
export interface WorkerProcess {
  readonly name: string;
  readonly pid: number;
  readonly home: string;
  readonly workDir: string;
  /** Its worker id (kept in `<workDir>/worker-id`), as task views show it; undefined before it wrote one. */
  readonly id: string | undefined;
  /** Resolves when the process ended, for whatever reason. */
  readonly exited: Promise<ExitStatus>;
  /** The exit status once ended, else undefined. */
  readonly status: ExitStatus | undefined;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 10 s for other signals). */
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Its output so far (stdout lines; stderr lines prefixed `[err]`). */
  output(): string;
  /** Waits until a line of its output matches; fails when it exits first or at the deadline. */
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Starts `shipdeck worker` with the given flags and environment. */
export async function startWorker(options: StartWorkerOptions): Promise<WorkerProcess> {
  ensureBundles();
  mkdirSync(options.workDir, { recursive: true });
  const log = new OutputLog(options.logFile);
  const args = ['worker', '-api', options.api, '-work-dir', options.workDir, '-name', options.name];
  for (const master of options.masters ?? []) args.push('-master', master);
  const spawned = new Spawned(args, { ...inheritedEnv(), ...options.env }, log);
  const idFile = join(options.workDir, 'worker-id');
  let id: string | undefined;

  const waitForOutput = async (pattern: RegExp, timeoutMs = WORKER_READY_TIMEOUT_MS) => {
    await pollUntil(
      () => {
        if (log.has(pattern)) return true;
        if (spawned.status) {
          throw new Error(
            `worker ${options.name} (pid ${spawned.pid}) exited (code=${spawned.status.code} signal=${spawned.status.signal}) ` +
              `before logging ${pattern}:\n${log.text()}`,
          );
        }
        return false;
      },
      { timeoutMs, intervalMs: 50, describe: () => `worker ${options.name} did not log ${pattern} within ${timeoutMs} ms:\n${log.text()}` },
    );
  };

  const worker: WorkerProcess = {
    name: options.name,
    home: options.home,
    workDir: options.workDir,
    get pid() {
      return spawned.pid;
    },
    get id() {
      if (id === undefined && existsSync(idFile)) id = readFileSync(idFile, 'utf8').trim() || undefined;
      return id;
    },
    exited: spawned.exited,
    get status() {
      return spawned.status;
    },
    kill: (signal) => spawned.kill(signal),
    output: () => log.text(),
    waitForOutput,
  };
  spawned.exited.then(() => log.close(), () => undefined);
  if ((options.wait ?? 'ready') === 'ready') {
    try {
      await waitForOutput(WORKER_STARTED, options.readyTimeoutMs ?? WORKER_READY_TIMEOUT_MS);
    } catch (error) {
      await spawned.kill('SIGKILL');
      throw error;
    }
  }
  return worker;
}

// ---- masters

/** A `shipdeck master` process of a cluster. */
export interface ClusterMaster {
  readonly name: string;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `server.port` (REST API, health). */
  readonly port: number;
  /** `server.workerPort` (command channel), what workers get as `-master localhost:<workerPort>`. */
  readonly workerPort: number;
  /** Pid of the current process (changes on restart). */
  readonly pid: number;
  /** Resolves when the current process ended. */
  readonly exited: Promise<ExitStatus>;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 10 s for other signals). */
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** Starts it again (same ports, home, database, queue) and waits until it is ready; it must have exited. */
  restart(): Promise<void>;
  /** Its output so far, across restarts. */
  output(): string;
}

/** Waits until `GET /health/ready` answers 200; fails when the process exits first. */
async function waitMasterReady(name: string, url: string, spawned: Spawned, log: OutputLog): Promise<void> {
  let last = 'no answer yet';
  await pollUntil(
    async () => {
      if (spawned.status) {
        throw new Error(`${name} exited before it was ready (code=${spawned.status.code} signal=${spawned.status.signal}):\n${log.text()}`);
      }
      try {
        const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
        last = `HTTP ${response.status} ${await response.text()}`;
        return response.status === 200;
      } catch (error) {
        last = messageOf((error as Error).cause ?? error);
        return false;
      }
    },
    {
      timeoutMs: MASTER_READY_TIMEOUT_MS,
      describe: () => `${name} not ready at ${url}/health/ready within ${MASTER_READY_TIMEOUT_MS} ms (last: ${last}):\n${log.text()}`,
    },
  );
}

// ---- clusters

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** How many masters (at least 1). */
  masters: number;
  /** How many workers to start with (0 is fine: add them later with {@link Cluster.addWorker}). */
  workers: number;
  /**
   * SHIPDECK_* variables for every process, on top of the cluster's (which they may override):
   * SHIPDECK_HOME, _TASK_IN_PROCESS_WORKER=false, _DB_URL (own schema), _TASK_QUEUE_URL,
   * _TASK_QUEUE_NAME (own queue), _TASK_RECONCILE_INTERVAL=500ms, _TASK_RECONCILE_AFTER=2s,
   * _LOG_LEVEL=info, _EXPORT_DIR; masters also get _SERVER_PORT and _SERVER_WORKER_PORT.
   */
  env?: Record<string, string>;
  /** SHIPDECK_* variables for workers only (after `env`). */
  workerEnv?: Record<string, string>;
  /** SHIPDECK_* variables for masters only (after `env`). */
  masterEnv?: Record<string, string>;
  /** Plugin directories copied into `plugins/` besides the repository's; default: the ledger test plugin. */
  extraPlugins?: string[];
  /** Default {@link TEST_DATABASE_URL}. */
  databaseUrl?: string;
  /** Default {@link TEST_AMQP_URL}. */
  amqpUrl?: string;
}

/** Options of {@link Cluster.addWorker}. */
export interface AddWorkerOptions {
  /** Its installation directory; default the cluster's (see {@link Cluster.cloneHome} for a different one). */
  home?: string;
  /** SHIPDECK_* variables for this worker only, on top of the cluster's. */
  env?: Record<string, string>;
  /** `-name`; default `worker-N`. */
  name?: string;
  /** `-api`; default the masters' URLs in turn. */
  api?: string;
  /** See {@link StartWorkerOptions.wait}. */
  wait?: 'ready' | 'spawned';
}

/** A running cluster, from {@link startCluster}. */
export interface Cluster {
  /** Temporary directory holding everything below (removed by {@link Cluster.stop}). */
  readonly root: string;
  /** The shared installation directory (SHIPDECK_HOME) of masters and workers. */
  readonly home: string;
  /** A scratch directory for the caller (ledger files, pid files, …). */
  readonly sandbox: string;
  /** Where each process's full output is written (`<name>.log`). */
  readonly logDir: string;
  /** The database URL the processes use (with `?schema=`). */
  readonly databaseUrl: string;
  readonly schema: string;
  readonly amqpUrl: string;
  /** The cluster's own task queue (`task.queue.name`). */
  readonly queueName: string;
  readonly masters: ClusterMaster[];
  /** Every worker started so far, in start order (including those that exited). */
  readonly workers: WorkerProcess[];
  /** Starts one more worker (see {@link AddWorkerOptions}). */
  addWorker(options?: AddWorkerOptions): Promise<WorkerProcess>;
  /** A copy of the cluster's home, to be changed (e.g. a file added to plugins/); removed with the cluster. */
  cloneHome(): string;
  /** The last `lines` of every process's output, labelled, for failure messages. */
  describe(lines?: number): string;
  /** SIGTERM to every process, SIGKILL to those still running after 10 s; drops schema and queue; removes `root`. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Checks the services ({@link requireServices}), builds dist/ when stale ({@link ensureBundles}),
 * starts masters (together: migrations are guarded), waits until each answers `GET /health/ready`,
 * then starts the workers and waits until each consumes. On failure everything started is stopped
 * and the error carries the processes' output.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  if (!Number.isInteger(options.masters) || options.masters < 1) throw new Error('a cluster needs at least one master');
  await requireServices({ databaseUrl: options.databaseUrl, amqpUrl: options.amqpUrl });
  ensureBundles();
  const root = mkdtempSync(join(tmpdir(), 'shipdeck-cluster-'));
  const home = makeClusterHome(root, options.extraPlugins);
  const sandbox = join(root, 'sandbox');
  const logDir = join(root, 'logs');
  mkdirSync(sandbox);
  mkdirSync(logDir);
  const schema = `cluster_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const baseDatabaseUrl = options.databaseUrl ?? TEST_DATABASE_URL;
  const databaseUrl = databaseUrlWithSchema(schema, baseDatabaseUrl);
  const amqpUrl = options.amqpUrl ?? TEST_AMQP_URL;
  const queueName = `test-${randomUUID()}`;
  const shared: Record<string, string> = {
    SHIPDECK_HOME: home,
    SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
    SHIPDECK_DB_URL: databaseUrl,
    SHIPDECK_TASK_QUEUE_URL: amqpUrl,
    SHIPDECK_TASK_QUEUE_NAME: queueName,
    SHIPDECK_TASK_RECONCILE_INTERVAL: '500ms',
    SHIPDECK_TASK_RECONCILE_AFTER: '2s',
    SHIPDECK_LOG_LEVEL: 'info',
    SHIPDECK_EXPORT_DIR: join(root, 'export'),
    ...options.env,
  };

  const masters: ClusterMaster[] = [];
  const workers: WorkerProcess[] = [];
  const logs: { label: string; text: () => string }[] = [];
  const masterLogs: OutputLog[] = [];
  let stopping: Promise<void> | undefined;
  let nextApi = 0;

  const startMasterProcess = async (index: number): Promise<ClusterMaster> => {
    const name = `master-${index + 1}`;
    const [port, workerPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...inheritedEnv(),
      ...shared,
      SHIPDECK_SERVER_PORT: String(port),
      SHIPDECK_SERVER_WORKER_PORT: String(workerPort),
      ...options.masterEnv,
    };
    const log = new OutputLog(join(logDir, `${name}.log`));
    masterLogs.push(log);
    let current = new Spawned(['master'], env, log);
    logs.push({ label: `${name} ${url}`, text: () => log.text() });
    const master: ClusterMaster = {
      name,
      url,
      port,
      workerPort,
      get pid() {
        return current.pid;
      },
      get exited() {
        return current.exited;
      },
      kill: (signal) => current.kill(signal),
      async restart() {
        if (current.status === undefined) throw new Error(`${name} (pid ${current.pid}) is still running; kill it first`);
        current = new Spawned(['master'], env, log);
        await waitMasterReady(name, url, current, log);
      },
      output: () => log.text(),
    };
    masters.push(master);
    await waitMasterReady(name, url, current, log);
    return master;
  };

  const cluster: Cluster = {
    root,
    home,
    sandbox,
    logDir,
    databaseUrl,
    schema,
    amqpUrl,
    queueName,
    masters,
    workers,
    async addWorker(add: AddWorkerOptions = {}) {
      if (stopping) throw new Error('the cluster is stopping');
      const name = add.name ?? `worker-${workers.length + 1}`;
      const api = add.api ?? masters[nextApi++ % masters.length].url;
      const workDir = join(root, 'work', `${name}-${randomUUID().slice(0, 8)}`);
      const logFile = join(logDir, `${name}.log`);
      const pending = startWorker({
        home: add.home ?? home,
        api,
        masters: masters.map((m) => `localhost:${m.workerPort}`),
        name,
        workDir,
        env: { ...shared, ...options.workerEnv, ...(add.home ? { SHIPDECK_HOME: add.home } : {}), ...add.env },
        logFile,
        wait: add.wait,
      });
      const worker = await pending;
      workers.push(worker);
      logs.push({ label: `${name} pid ${worker.pid}`, text: () => worker.output() });
      return worker;
    },
    cloneHome() {
      const copy = mkdtempSync(join(root, 'home-copy-'));
      cpSync(home, copy, { recursive: true });
      return copy;
    },
    describe(lines = 80) {
      const sections = logs.map(({ label, text }) => `\n==== ${label} (last ${lines} lines) ====\n${tail(text(), lines)}`);
      return `cluster root ${root} (full logs in ${logDir}; SHIPDECK_E2E_KEEP=1 keeps them)${sections.join('\n')}`;
    },
    stop() {
      stopping ??= stopEverything();
      return stopping;
    },
  };

  async function stopEverything(): Promise<void> {
    const failures: string[] = [];
    const step = async (what: string, action: () => Promise<unknown>) => {
      try {
        await action();
      } catch (error) {
        failures.push(`${what}: ${messageOf(error)}`);
      }
    };
    // Workers first: a master going away must not make a worker's last writes fail.
    await step('stop workers', () => Promise.all(workers.map((w) => w.kill('SIGTERM'))));
    await step('stop masters', () => Promise.all(masters.map((m) => m.kill('SIGTERM'))));
    await step('close master logs', () => Promise.all(masterLogs.map((log) => log.close())));
    await step(`drop schema ${schema}`, () => dropSchema(schema, baseDatabaseUrl));
    await step(`delete queue ${queueName}`, () => deleteQueue(queueName, amqpUrl));
    if (!process.env.SHIPDECK_E2E_KEEP) await step(`remove ${root}`, async () => rmSync(root, { recursive: true, force: true }));
    if (failures.length > 0) throw new Error(`stopping the cluster: ${failures.join('; ')}`);
  }

  try {
    await Promise.all(Array.from({ length: options.masters }, (_, i) => startMasterProcess(i)));
    // Sequentially, so that worker-N names follow the start order.
    for (let i = 0; i < options.workers; i++) await cluster.addWorker();
  } catch (error) {
    const described = cluster.describe();
    await cluster.stop().catch(() => undefined);
    throw new Error(`starting the cluster failed: ${messageOf(error)}\n${described}`);
  }
  return cluster;
}

// ---- small things

/** Runs `fn` over `items` with at most `limit` calls in flight; answers the results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  });
  await Promise.all(lanes);
  return results;
}

function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Runs a test body; when it fails, appends what `describe` answers (the processes' output) to
 * the error, so that a failure shows what the cluster logged.
 */
export function withProcessOutput(describe: () => string | undefined, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (error) {
      const output = describe() ?? '(no cluster)';
      if (error instanceof Error) {
        error.message += `\n${output}`;
        throw error;
      }
      throw new Error(`${String(error)}\n${output}`);
    }
  };
}

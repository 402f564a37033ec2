/**
 * What the lifecycle tests (test/lifecycle, issue 4) need on top of test/support/cluster.ts:
 * short channel timings, masters with a home of their own on a cluster's database and queue,
 * workers pointed at chosen masters (or a DNS name), the workers REST view per master, a recorder
 * of the worker states each master shows over time, and the `shipdeck` CLI.
 *
 * Like cluster.ts it imports no test framework, so that scripts can use it too.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { WriteStream, createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { Api, ApiResponse, TaskState, TaskWire, api } from './api';
import { Cluster, ClusterOptions, ExitStatus, StartWorkerOptions, WorkerProcess, startCluster, startWorker, withProcessOutput } from './cluster';
import { REPO_ROOT, freePort } from './master-process';
import { pollUntil } from './poll';

/**
 * Channel timings short enough for lifecycle tests: heartbeats every 300 ms, a worker silent for
 * 2 s is DISCONNECTED (its tasks UNKNOWN), task leases of 3 s, DNS re-resolved every second.
 */
export const LIFECYCLE_ENV: Readonly<Record<string, string>> = {
  SHIPDECK_WORKER_HEARTBEAT_INTERVAL: '300ms',
  SHIPDECK_WORKER_GRACE_PERIOD: '2s',
  SHIPDECK_TASK_LEASE_DURATION: '3s',
  SHIPDECK_WORKER_CONNECT_INTERVAL: '1s',
};

/** `worker.gracePeriod` of {@link LIFECYCLE_ENV}, in ms. */
export const GRACE_MS = 2_000;

// ---- the REST view of workers (spec §6)

export type WorkerState = 'CONNECTED' | 'INCOMPATIBLE' | 'DRAINING' | 'DISCONNECTED';

/** One row of `GET /api/v1/workers`. */
export interface WorkerRow {
  id: string;
  name: string;
  address: string;
  state: WorkerState;
  deploymentTasks: number;
  controlTasks: number;
  configHash: string;
  capacity: number;
  lastSeen: string;
}

export interface ServerInfo {
  version: string;
  role: string;
  configHash: string;
  inProcessWorker: boolean;
}

/** Fails with the answer's text unless its status is `status`; answers the body. */
export function expectStatus<T>(response: ApiResponse<T>, status: number, what = ''): T {
  if (response.status !== status) throw new Error(`${what}expected HTTP ${status}, got ${response.status}: ${response.text}`);
  return response.body;
}

/** `GET /workers` of one master. */
export async function listWorkers(url: string): Promise<WorkerRow[]> {
  return expectStatus(await api(url).get<WorkerRow[]>('/workers'), 200, `GET ${url}/api/v1/workers: `);
}

/** A worker's row in `GET /workers` of one master, or undefined when that master does not list it. */
export async function workerRow(url: string, id: string): Promise<WorkerRow | undefined> {
  return (await listWorkers(url)).find((w) => w.id === id);
}

/**
 * Polls `GET /workers` of a master until the worker is listed in one of `states` (`ABSENT`: not
 * listed); answers its row (undefined for ABSENT). Fails at the deadline with the last listing.
 */
export async function waitForWorker(
  url: string,
  id: string,
  states: (WorkerState | 'ABSENT')[],
  timeoutMs = 15_000,
): Promise<WorkerRow | undefined> {
  let rows: WorkerRow[] = [];
  let row: WorkerRow | undefined;
  await pollUntil(
    async () => {
      rows = await listWorkers(url);
      row = rows.find((w) => w.id === id);
      return states.includes(row?.state ?? 'ABSENT');
    },
    {
      timeoutMs,
      describe: () =>
        `${url} did not list worker ${id} as ${states.join(' or ')} within ${timeoutMs} ms; it lists ${JSON.stringify(rows)}`,
    },
  );
  return row;
}

/** `GET /server/info` of one master. */
export async function serverInfo(url: string): Promise<ServerInfo> {
  return expectStatus(await api(url).get<ServerInfo>('/server/info'), 200, `GET ${url}/api/v1/server/info: `);
}

/**
 * Polls the worker list of several masters and keeps, per master, the sequence of states it showed
 * for one worker (consecutive repeats folded; `ABSENT` when not listed, `ERROR` when the master did
 * not answer). For lifecycle assertions such as CONNECTED → DRAINING → DISCONNECTED.
 */
export class WorkerStateRecorder {
  private readonly sequences = new Map<string, string[]>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly masters: { name: string; url: string }[],
    private readonly workerId: string,
    private readonly intervalMs = 100,
  ) {
    for (const m of masters) this.sequences.set(m.name, []);
  }

  /** Starts polling; resolves once every master was looked at once. */
  async start(): Promise<this> {
    this.running = true;
    const first = Promise.all(this.masters.map((m) => this.look(m)));
    this.loop = (async () => {
      await first;
      while (this.running) {
        await delay(this.intervalMs);
        await Promise.all(this.masters.map((m) => this.look(m)));
      }
    })();
    await first;
    return this;
  }

  /** Stops polling (after the poll under way). */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The states one master showed, in order, repeats folded. */
  sequence(master: string): string[] {
    return [...(this.sequences.get(master) ?? [])];
  }

  /** Every master's sequence, for messages. */
  toString(): string {
    return [...this.sequences].map(([name, seq]) => `${name}: ${seq.join(' → ')}`).join('; ');
  }

  private async look(master: { name: string; url: string }): Promise<void> {
    let state: string;
    try {
      const response = await api(master.url).get<WorkerRow[]>('/workers');
      state = response.status === 200 ? (response.body.find((w) => w.id === this.workerId)?.state ?? 'ABSENT') : `ERROR ${response.status}`;
    } catch {
      state = 'ERROR';
    }
    const sequence = this.sequences.get(master.name) as string[];
    if (sequence[sequence.length - 1] !== state) sequence.push(state);
  }
}

/**
 * Polls `GET /tasks/{id}` of several masters and keeps, per master, the sequence of task states
 * it showed (repeats folded; `ERROR` when it did not answer, e.g. while it is down).
 */
export class TaskStateRecorder {
  private readonly sequences = new Map<string, string[]>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly masters: { name: string; url: string }[],
    private readonly taskIds: string[],
    private readonly intervalMs = 100,
  ) {}

  /** Starts polling; resolves once every task was looked at once on every master. */
  async start(): Promise<this> {
    this.running = true;
    const round = () => Promise.all(this.masters.flatMap((m) => this.taskIds.map((id) => this.look(m, id))));
    const first = round();
    this.loop = (async () => {
      await first;
      while (this.running) {
        await delay(this.intervalMs);
        await round();
      }
    })();
    await first;
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** The states `master` showed for `taskId`, repeats folded. */
  sequence(master: string, taskId: string): string[] {
    return [...(this.sequences.get(`${master} ${taskId}`) ?? [])];
  }

  toString(): string {
    return [...this.sequences].map(([key, seq]) => `${key}: ${seq.join(' → ')}`).join('\n');
  }

  private async look(master: { name: string; url: string }, id: string): Promise<void> {
    let state: string;
    try {
      const response = await api(master.url).get<TaskWire>(`/tasks/${id}`);
      state = response.status === 200 ? response.body.state : `ERROR ${response.status}`;
    } catch {
      state = 'ERROR';
    }
    const key = `${master.name} ${id}`;
    const sequence = this.sequences.get(key) ?? [];
    this.sequences.set(key, sequence);
    if (sequence[sequence.length - 1] !== state) sequence.push(state);
  }
}

// ---- tasks

interface Created {
  taskId: string;
}

/** `PUT /hosts/{host}` (local) and `PUT /environments/{env}` for each environment, all on that host. */
export async function localEnvironments(client: Api, host: string, environments: string[]): Promise<void> {
  expectStatus(await client.put(`/hosts/${host}`, { type: 'local' }), 201, `PUT /hosts/${host}: `);
  for (const name of environments) {
    expectStatus(await client.put(`/environments/${name}`, { hosts: [host], dictionary: {} }), 201, `PUT /environments/${name}: `);
  }
}

/** Imports a package of `cmd.Command` deployables (name → create script), in this order. */
export async function importCommands(client: Api, application: string, commands: [name: string, create: string][]): Promise<void> {
  const deployables = commands.map(([name, create], i) => ({ name, type: 'cmd.Command', order: 10 + 10 * i, create }));
  expectStatus(await client.post('/packages', { application, version: '1.0.0', deployables }), 201, 'POST /packages: ');
}

/** Creates the deployment of `application` 1.0.0 to `environment` and starts it (200, QUEUED); answers its id. */
export async function deploy(creator: Api, starter: Api, application: string, environment: string): Promise<string> {
  const body = { application, version: '1.0.0', environment };
  const { taskId } = expectStatus(await creator.post<Created>('/deployments', body), 201, 'POST /deployments: ');
  await startTask(starter, taskId);
  return taskId;
}

/** Creates a `record` control task of the ledger test plugin on `host` and starts it; answers its id. */
export async function runControl(creator: Api, starter: Api, host: string, parameters: Record<string, unknown> = {}): Promise<string> {
  const created = await creator.post<Created>('/control-tasks', { target: host, control: 'record', parameters });
  const { taskId } = expectStatus(created, 201, 'POST /control-tasks: ');
  await startTask(starter, taskId);
  return taskId;
}

/** `POST /tasks/{id}/start`: 200 and QUEUED. */
export async function startTask(client: Api, id: string): Promise<TaskWire> {
  const task = expectStatus(await client.post<TaskWire>(`/tasks/${id}/start`), 200, `POST /tasks/${id}/start: `);
  if (task.state !== 'QUEUED') throw new Error(`task ${id} started, but answered ${task.state}, not QUEUED`);
  return task;
}

/** `GET /tasks/{id}`, 200. */
export async function getTask(url: string, id: string): Promise<TaskWire> {
  return expectStatus(await api(url).get<TaskWire>(`/tasks/${id}`), 200, `GET ${url}/api/v1/tasks/${id}: `);
}

/**
 * A `cmd.Command` script that records its start (its shell's pid, one line per run, in
 * `startedFile`) and then runs until `releaseFile` exists (at most `maxSeconds`): a step whose end
 * the test decides, instead of a sleep it hopes is long enough.
 */
export function heldScript(startedFile: string, releaseFile: string, maxSeconds = 60): string {
  const ticks = maxSeconds * 10;
  return `echo $$ >> ${startedFile}; i=0; while [ ! -f ${releaseFile} ] && [ $i -lt ${ticks} ]; do sleep 0.1; i=$((i+1)); done`;
}

/** The state of each task of `ids` as one master shows it, in the order of `ids`. */
export async function taskStates(url: string, ids: string[]): Promise<TaskState[]> {
  return Promise.all(ids.map(async (id) => (await getTask(url, id)).state));
}

// ---- processes

/** The parent's environment without SHIPDECK_* variables. */
function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHIPDECK_')));
}

/**
 * The SHIPDECK_* environment of a process joining `cluster` (its database schema, queue, export
 * directory; the same defaults as cluster.ts gives its own processes), with `extra` on top.
 */
export function clusterEnv(cluster: Cluster, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SHIPDECK_HOME: cluster.home,
    SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
    SHIPDECK_DB_URL: cluster.databaseUrl,
    SHIPDECK_TASK_QUEUE_URL: cluster.amqpUrl,
    SHIPDECK_TASK_QUEUE_NAME: cluster.queueName,
    SHIPDECK_TASK_RECONCILE_INTERVAL: '500ms',
    SHIPDECK_TASK_RECONCILE_AFTER: '2s',
    SHIPDECK_LOG_LEVEL: 'info',
    SHIPDECK_EXPORT_DIR: join(cluster.root, 'export'),
    ...extra,
  };
}

const STOP_GRACE_MS = 10_000;
const READY_TIMEOUT_MS = 30_000;
const KEEP_LINES = 5_000;

/** A master started by {@link Lifecycle.addMaster}: its own home, the cluster's database and queue. */
export interface ExtraMaster {
  readonly name: string;
  readonly url: string;
  readonly port: number;
  readonly workerPort: number;
  readonly home: string;
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>;
  restart(): Promise<void>;
  output(): string;
}

/** One `node bin/shipdeck.js master` process: output kept in memory and in a file. */
class MasterChild {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;

  constructor(env: NodeJS.ProcessEnv, private readonly sink: OutputSink) {
    this.child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'shipdeck.js'), 'master'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    alive.add(this.child);
    this.child.stdout?.on('data', (chunk: Buffer) => sink.write('', chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => sink.write('[err] ', chunk));
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => {
        this.status = { code, signal };
        alive.delete(this.child);
        sink.mark(`process ${this.child.pid} exited: code=${code} signal=${signal}`);
        resolve(this.status);
      });
      this.child.once('error', (error) => {
        this.status ??= { code: null, signal: null };
        alive.delete(this.child);
        sink.mark(`process could not start: ${error.message}`);
        resolve(this.status);
      });
    });
    sink.mark(`started process ${this.child.pid}: shipdeck master`);
  }

  async kill(signal: NodeJS.Signals, graceMs = STOP_GRACE_MS): Promise<ExitStatus> {
    if (this.status) return this.status;
    try {
      process.kill(this.child.pid as number, signal);
    } catch {
      // Gone already.
    }
    const timer =
      signal === 'SIGKILL'
        ? undefined
        : setTimeout(() => {
            this.sink.mark(`still running ${graceMs} ms after ${signal}: SIGKILL`);
            this.child.kill('SIGKILL');
          }, graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Every master child started here and still running: none may outlive the test run. */
const alive = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of alive) child.kill('SIGKILL');
});

/** Output lines in memory (the last ones) and in full in a file. */
class OutputSink {
  private readonly lines: string[] = [];
  private partial: Record<string, string> = {};
  private file: WriteStream | undefined;

  constructor(logFile: string) {
    this.file = createWriteStream(logFile, { flags: 'a' });
  }

  write(prefix: string, chunk: Buffer): void {
    this.file?.write(chunk);
    const text = (this.partial[prefix] ?? '') + chunk.toString();
    const parts = text.split('\n');
    this.partial[prefix] = parts.pop() ?? '';
    for (const line of parts) this.push(`${prefix}${line}`);
  }

  mark(text: string): void {
    this.file?.write(`---- ${text}\n`);
    this.push(`---- ${text}`);
  }

  text(): string {
    return [...this.lines, ...Object.entries(this.partial).filter(([, v]) => v).map(([p, v]) => `${p}${v}`)].join('\n');
  }

  close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    return new Promise((resolve) => (file ? file.end(resolve) : resolve()));
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
  }
}

async function waitReady(name: string, url: string, child: MasterChild, sink: OutputSink): Promise<void> {
  let last = 'no answer yet';
  await pollUntil(
    async () => {
      if (child.status) throw new Error(`${name} exited before it was ready (${JSON.stringify(child.status)}):\n${sink.text()}`);
      try {
        const response = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(2_000) });
        last = `HTTP ${response.status}`;
        return response.status === 200;
      } catch (error) {
        last = String((error as Error).cause ?? error);
        return false;
      }
    },
    { timeoutMs: READY_TIMEOUT_MS, describe: () => `${name} not ready at ${url} within ${READY_TIMEOUT_MS} ms (${last}):\n${sink.text()}` },
  );
}

// ---- a cluster with extras

/** Options of {@link Lifecycle.addWorker}. */
export interface LifecycleWorkerOptions {
  name: string;
  /** `-master` values; default: every master of the lifecycle cluster (`localhost:<workerPort>`). */
  masters?: string[];
  /** `-api`; default the first master's URL. */
  api?: string;
  /** Installation directory; default the cluster's. */
  home?: string;
  /** SHIPDECK_* variables on top of the cluster's, {@link LIFECYCLE_ENV} and the lifecycle's workerEnv. */
  env?: Record<string, string>;
  wait?: StartWorkerOptions['wait'];
}

/**
 * A cluster (cluster.ts) with {@link LIFECYCLE_ENV} on every process, plus masters of a home of
 * their own and workers pointed at chosen masters, all stopped (and their files removed) by
 * {@link Lifecycle.stop}.
 */
export class Lifecycle {
  readonly extraMasters: ExtraMaster[] = [];
  readonly extraWorkers: WorkerProcess[] = [];
  private readonly sinks: { label: string; sink: OutputSink }[] = [];
  private readonly workerLogs: { label: string; worker: WorkerProcess }[] = [];
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly cluster: Cluster,
    private readonly workerEnv: Record<string, string>,
  ) {}

  /** Starts a cluster of `options.masters` masters and `options.workers` workers (started side by side). */
  static async start(options: ClusterOptions): Promise<Lifecycle> {
    const cluster = await startCluster({ ...options, workers: 0, env: { ...LIFECYCLE_ENV, ...options.env } });
    const lifecycle = new Lifecycle(cluster, { ...LIFECYCLE_ENV, ...options.env, ...options.workerEnv });
    try {
      await Promise.all(Array.from({ length: options.workers }, (_, i) => cluster.addWorker({ name: `worker-${i + 1}` })));
    } catch (error) {
      const described = lifecycle.describe();
      await lifecycle.stop().catch(() => undefined);
      throw new Error(`starting the workers failed: ${(error as Error).message}\n${described}`);
    }
    return lifecycle;
  }

  /** Masters of the cluster and extra ones, with a name and URL each. */
  get endpoints(): { name: string; url: string }[] {
    return [...this.cluster.masters, ...this.extraMasters].map((m) => ({ name: m.name, url: m.url }));
  }

  /** Starts one more master on the cluster's database and queue, with its own home and ports. */
  async addMaster(options: { name: string; home: string; env?: Record<string, string> }): Promise<ExtraMaster> {
    const [port, workerPort] = [await freePort(), await freePort()];
    const url = `http://127.0.0.1:${port}`;
    const env = {
      ...inheritedEnv(),
      ...clusterEnv(this.cluster, { ...LIFECYCLE_ENV, ...options.env, SHIPDECK_HOME: options.home }),
      SHIPDECK_SERVER_PORT: String(port),
      SHIPDECK_SERVER_WORKER_PORT: String(workerPort),
    };
    const sink = new OutputSink(join(this.cluster.logDir, `${options.name}.log`));
    this.sinks.push({ label: `${options.name} ${url}`, sink });
    let current = new MasterChild(env, sink);
    const master: ExtraMaster = {
      name: options.name,
      url,
      port,
      workerPort,
      home: options.home,
      get pid() {
        return current.child.pid ?? -1;
      },
      get exited() {
        return current.exited;
      },
      kill: (signal = 'SIGTERM') => current.kill(signal),
      restart: async () => {
        if (!current.status) throw new Error(`${options.name} is still running; kill it first`);
        current = new MasterChild(env, sink);
        await waitReady(options.name, url, current, sink);
      },
      output: () => sink.text(),
    };
    this.extraMasters.push(master);
    await waitReady(options.name, url, current, sink);
    return master;
  }

  /** Starts a worker on the cluster's database and queue, with the given `-master` flags and settings. */
  async addWorker(options: LifecycleWorkerOptions): Promise<WorkerProcess> {
    const home = options.home ?? this.cluster.home;
    const masters = options.masters ?? [...this.cluster.masters, ...this.extraMasters].map((m) => `localhost:${m.workerPort}`);
    const worker = await startWorker({
      home,
      api: options.api ?? this.cluster.masters[0].url,
      masters,
      name: options.name,
      workDir: join(this.cluster.root, 'work', `${options.name}-${randomUUID().slice(0, 8)}`),
      env: clusterEnv(this.cluster, { ...this.workerEnv, ...options.env, SHIPDECK_HOME: home }),
      logFile: join(this.cluster.logDir, `${options.name}.log`),
      wait: options.wait,
    });
    this.extraWorkers.push(worker);
    this.workerLogs.push({ label: `${options.name} pid ${worker.pid}`, worker });
    return worker;
  }

  /** The cluster's description plus the last lines of every extra process. */
  describe(lines = 60): string {
    const tail = (text: string) => text.split('\n').slice(-lines).join('\n');
    const extra = [
      ...this.sinks.map(({ label, sink }) => `\n==== ${label} (last ${lines} lines) ====\n${tail(sink.text())}`),
      ...this.workerLogs.map(({ label, worker }) => `\n==== ${label} (last ${lines} lines) ====\n${tail(worker.output())}`),
    ];
    return `${this.cluster.describe(lines)}${extra.join('')}`;
  }

  /** Stops extra workers, extra masters, then the cluster (processes, schema, queue, files). Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const failures: string[] = [];
      const step = async (what: string, action: () => Promise<unknown>) => {
        try {
          await action();
        } catch (error) {
          failures.push(`${what}: ${(error as Error).message}`);
        }
      };
      await step('stop extra workers', () => Promise.all(this.extraWorkers.map((w) => w.kill('SIGTERM'))));
      await step('stop extra masters', () => Promise.all(this.extraMasters.map((m) => m.kill('SIGTERM'))));
      await step('close logs', () => Promise.all(this.sinks.map(({ sink }) => sink.close())));
      await step('stop the cluster', () => this.cluster.stop());
      if (failures.length > 0) throw new Error(`stopping the lifecycle cluster: ${failures.join('; ')}`);
    })();
    return this.stopping;
  }
}

/**
 * Wraps a test body so that a failure carries the output of every process of the lifecycle
 * cluster (the logs are what explains a failed lifecycle test).
 */
export function withLogs(lifecycle: () => Lifecycle | undefined, body: () => Promise<void>): () => Promise<void> {
  return withProcessOutput(() => lifecycle()?.describe(), body);
}

/** Rejects after `ms` unless `promise` settled first. */
export async function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `node bin/shipdeck.js ARGS` (the client CLI) to its end; answers exit code and output. */
export function runCli(args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(REPO_ROOT, 'bin', 'shipdeck.js'), ...args],
      { cwd: REPO_ROOT, env: inheritedEnv(), timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** A directory under the cluster's root, created. */
export function scratchDir(cluster: Cluster, name: string): string {
  const dir = join(cluster.sandbox, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

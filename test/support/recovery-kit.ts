/**
 * What the recovery tests (test/recovery, issue 5) share on top of test/support/cluster.ts: a
 * cluster whose workers can be restarted on their own work directory, frozen (SIGSTOP) and
 * thawed (SIGCONT); readers of recovery files and ledgers; REST helpers that check statuses; a
 * RabbitMQ virtual host of a test's own (so that `rabbitmqctl close_all_connections` hits only it).
 *
 * Imports no test framework, like cluster.ts.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Api, ApiResponse, TaskState, TaskWire, api, summarize } from './api';
import { Cluster, ClusterOptions, TEST_AMQP_URL, WorkerProcess, startCluster, startWorker, withProcessOutput } from './cluster';
import { pollUntil } from './poll';
import { isProcessAlive } from './processes';

const execFileAsync = promisify(execFile);

// ---- wire shapes the recovery tests read

/** A task view with the fields recovery tests look at besides the shared wire type. */
export type Task = TaskWire & { completedAt?: string | null };

/** A step as a plan (REST or recovery file) holds it. */
export interface PlanStepShape {
  path: string;
  state: string;
  description?: string;
  failure?: string | null;
}

export interface PlanShape {
  phases: { path: string; blocks: { path: string; steps: PlanStepShape[] }[] }[];
}

/** A recovery file `<workDir>/<taskId>.task` as a worker writes it (libs/worker-runtime recovery-files.ts). */
export interface RecoveryFileShape {
  format: string;
  version: number;
  workerId: string;
  writtenAt: string;
  task: { id: string; state: string; workerId: string | null; attempt: number; plan: PlanShape };
}

/** One line `<taskId> <stepPath> <pid>` of a ledger file (test/fixtures/plugins/ledger). */
export interface LedgerLine {
  taskId: string;
  step: string;
  pid: number;
}

/** Every step of a plan in execution order. */
export function planSteps(plan: PlanShape): PlanStepShape[] {
  return plan.phases.flatMap((phase) => phase.blocks.flatMap((block) => block.steps));
}

/** `path:STATE` of every step, for compact assertions and messages. */
export function stepStates(plan: PlanShape): string[] {
  return planSteps(plan).map((s) => `${s.path}:${s.state}`);
}

// ---- files

/** The path of a task's recovery file in a work directory. */
export function recoveryFilePath(workDir: string, taskId: string): string {
  return join(workDir, `${taskId}.task`);
}

/**
 * The parsed recovery file of a task, or undefined while there is none. Files are replaced by
 * rename, so a reader never sees a half-written one; a file that does not parse is an error.
 */
export function readRecoveryFile(workDir: string, taskId: string): RecoveryFileShape | undefined {
  const path = recoveryFilePath(workDir, taskId);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as RecoveryFileShape;
  } catch (error) {
    throw new Error(`recovery file ${path} is not JSON (${(error as Error).message}): ${text.slice(0, 200)}`);
  }
}

/** File names in `<workDir>/quarantine/` (empty when there is none). */
export function quarantined(workDir: string): string[] {
  const dir = join(workDir, 'quarantine');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export function readLedger(file: string): LedgerLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [taskId, step, pid, ...rest] = line.split(' ');
      if (!taskId || !step || !/^\d+$/.test(pid ?? '') || rest.length > 0) throw new Error(`malformed ledger line in ${file}: "${line}"`);
      return { taskId, step, pid: Number(pid) };
    });
}

/** How many ledger lines each step of `taskId` has, by step path. */
export function ledgerCounts(lines: readonly LedgerLine[], taskId: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const l of lines) if (l.taskId === taskId) counts[l.step] = (counts[l.step] ?? 0) + 1;
  return counts;
}

// ---- REST

export function expectStatus<T>(response: ApiResponse<T>, status: number, what = ''): T {
  if (response.status !== status) throw new Error(`${what}expected HTTP ${status}, got ${response.status}: ${response.text}`);
  return response.body;
}

export async function getTask(client: Api, id: string): Promise<Task> {
  return expectStatus(await client.get<Task>(`/tasks/${id}`), 200, `GET /tasks/${id}: `);
}

export async function listTasks(client: Api): Promise<Map<string, Task>> {
  const tasks = expectStatus(await client.get<Task[]>('/tasks'), 200, 'GET /tasks: ');
  return new Map(tasks.map((t) => [t.id, t]));
}

export async function createControl(client: Api, target: string, parameters: Record<string, unknown> = {}): Promise<string> {
  const body = { target, control: 'record', parameters };
  return expectStatus(await client.post<{ taskId: string }>('/control-tasks', body), 201, 'POST /control-tasks: ').taskId;
}

export async function createDeployment(client: Api, application: string, version: string, environment: string): Promise<string> {
  const body = { application, version, environment };
  return expectStatus(await client.post<{ taskId: string }>('/deployments', body), 201, 'POST /deployments: ').taskId;
}

/** POST /tasks/{id}/start: 200 and QUEUED (spec §2). */
export async function startTask(client: Api, id: string): Promise<Task> {
  const task = expectStatus(await client.post<Task>(`/tasks/${id}/start`), 200, `POST /tasks/${id}/start: `);
  if (task.state !== 'QUEUED') throw new Error(`task ${id} started, but answered ${task.state}, not QUEUED:\n${summarize(task)}`);
  return task;
}

/** PUT /hosts/{name} of type `ledger` writing to `ledgerFile`. */
export async function putLedgerHost(client: Api, name: string, ledgerFile: string): Promise<void> {
  expectStatus(await client.put(`/hosts/${name}`, { type: 'ledger', properties: { ledgerFile } }), 201, `PUT /hosts/${name}: `);
}

export async function putEnvironment(client: Api, name: string, hosts: string[], dictionary: Record<string, string> = {}): Promise<void> {
  expectStatus(await client.put(`/environments/${name}`, { hosts, dictionary }), 201, `PUT /environments/${name}: `);
}

export async function importPackage(client: Api, manifest: Record<string, unknown>): Promise<void> {
  expectStatus(await client.post('/packages', manifest), 201, 'POST /packages: ');
}

/**
 * Imports `application` 1.0.0 made of test.Ledger deployables writing to `ledgerFile`, one serial
 * step per entry of `sleepsMs` (orders 10, 20, …), deployables named `s1`, `s2`, ….
 */
export async function importLedgerPackage(client: Api, application: string, ledgerFile: string, sleepsMs: number[]): Promise<void> {
  await importPackage(client, {
    application,
    version: '1.0.0',
    deployables: sleepsMs.map((sleepMs, i) => ({ name: `s${i + 1}`, type: 'test.Ledger', order: 10 * (i + 1), ledgerFile, sleepMs })),
  });
}

/**
 * Polls GET /tasks/{id} until `until` holds; unlike waitForTask, answers that are not 200 (a
 * master whose database is away answers 503) count as "not yet" until the deadline.
 */
export async function pollTask(
  client: Api,
  id: string,
  until: (task: Task) => boolean,
  timeoutMs: number,
  what = 'the expected condition',
): Promise<Task> {
  let last: ApiResponse<Task> | undefined;
  let error: unknown;
  await pollUntil(
    async () => {
      try {
        last = await client.get<Task>(`/tasks/${id}`);
        error = undefined;
      } catch (e) {
        error = e;
        return false;
      }
      return last.status === 200 && until(last.body);
    },
    {
      timeoutMs,
      describe: () =>
        `task ${id}: no ${what} within ${timeoutMs} ms; last seen ` +
        (error ? String(error) : last === undefined ? 'nothing' : last.status === 200 ? summarize(last.body) : `HTTP ${last.status} ${last.text}`),
    },
  );
  return (last as ApiResponse<Task>).body;
}

/** Polls until the task is in one of `states`. */
export function pollTaskState(client: Api, id: string, states: (TaskState | 'UNKNOWN')[], timeoutMs: number): Promise<Task> {
  return pollTask(client, id, (t) => (states as string[]).includes(t.state), timeoutMs, `state ${states.join(' or ')}`);
}

// ---- processes

/** SIGSTOP: the process freezes (timers, sockets, child processes it waits for keep their state). */
export function freeze(pid: number): void {
  process.kill(pid, 'SIGSTOP');
}

/** SIGCONT: a frozen process runs on. */
export function thaw(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // Gone: nothing to thaw.
  }
}

/** Waits until a worker's health port answers, from its address as the masters list it. */
export async function workerHealth(client: Api, workerId: string, timeoutMs = 10_000): Promise<{ status: string; workerId: string; state: string }> {
  let health: { status: string; workerId: string; state: string } | undefined;
  let last = 'nothing';
  await pollUntil(
    async () => {
      const workers = expectStatus(await client.get<{ id: string; address: string }[]>('/workers'), 200, 'GET /workers: ');
      const worker = workers.find((w) => w.id === workerId);
      if (!worker) {
        last = `GET /workers does not list ${workerId}: ${JSON.stringify(workers)}`;
        return false;
      }
      const port = worker.address.split(':').pop();
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
        last = `HTTP ${response.status}`;
        if (response.status !== 200) return false;
        health = (await response.json()) as typeof health;
        return health?.workerId === workerId;
      } catch (error) {
        last = String((error as Error).cause ?? error);
        return false;
      }
    },
    { timeoutMs, describe: () => `worker ${workerId}: health did not answer within ${timeoutMs} ms (last: ${last})` },
  );
  return health as { status: string; workerId: string; state: string };
}

// ---- the cluster

/** A cluster plus the workers restarted on their work directories, which cluster.ts does not track. */
export interface RecoveryCluster {
  readonly cluster: Cluster;
  /** A REST client per master. */
  readonly clients: Api[];
  /** Starts a worker again on the same work directory, name and installation; it must have exited. */
  restartWorker(worker: WorkerProcess, options?: { env?: Record<string, string> }): Promise<WorkerProcess>;
  /** Every worker process, the cluster's and the restarted ones. */
  allWorkers(): WorkerProcess[];
  /** The worker process (of any start) with this pid. */
  byPid(pid: number): WorkerProcess | undefined;
  /** SIGSTOPs a worker; {@link stop} thaws it again if the test did not. */
  freeze(worker: WorkerProcess): void;
  thaw(worker: WorkerProcess): void;
  /** The last lines of every process's output, for failure messages. */
  describe(lines?: number): string;
  /** Thaws frozen processes, stops restarted workers, then the cluster (schema, queue, files). Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a cluster (see {@link startCluster}) whose workers can be restarted on their work
 * directory with the environment the cluster gave them. Its workers (`worker-1`, …) start side by
 * side, not one after the other.
 */
export async function startRecoveryCluster(options: ClusterOptions): Promise<RecoveryCluster> {
  const cluster = await startCluster({ ...options, workers: 0 });
  try {
    await Promise.all(Array.from({ length: options.workers }, (_, i) => cluster.addWorker({ name: `worker-${i + 1}` })));
  } catch (error) {
    const described = cluster.describe();
    await cluster.stop().catch(() => undefined);
    throw new Error(`starting the workers failed: ${error instanceof Error ? error.message : String(error)}\n${described}`);
  }
  const restarted: WorkerProcess[] = [];
  const frozen = new Set<number>();
  const starts = new Map<string, number>();
  let stopping: Promise<void> | undefined;

  // The same SHIPDECK_* environment cluster.ts gives its workers (see ClusterOptions.env).
  const workerEnv = (): Record<string, string> => ({
    SHIPDECK_HOME: cluster.home,
    SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
    SHIPDECK_DB_URL: cluster.databaseUrl,
    SHIPDECK_TASK_QUEUE_URL: cluster.amqpUrl,
    SHIPDECK_TASK_QUEUE_NAME: cluster.queueName,
    SHIPDECK_TASK_RECONCILE_INTERVAL: '500ms',
    SHIPDECK_TASK_RECONCILE_AFTER: '2s',
    SHIPDECK_LOG_LEVEL: 'info',
    SHIPDECK_EXPORT_DIR: join(cluster.root, 'export'),
    ...options.env,
    ...options.workerEnv,
  });

  const all = () => [...cluster.workers, ...restarted];

  const rc: RecoveryCluster = {
    cluster,
    clients: cluster.masters.map((m) => api(m.url)),
    async restartWorker(worker, restart = {}) {
      if (worker.status === undefined) throw new Error(`worker ${worker.name} (pid ${worker.pid}) is still running`);
      const n = (starts.get(worker.workDir) ?? 1) + 1;
      starts.set(worker.workDir, n);
      const next = await startWorker({
        home: worker.home,
        api: cluster.masters[0].url,
        masters: cluster.masters.map((m) => `localhost:${m.workerPort}`),
        name: worker.name,
        workDir: worker.workDir,
        env: { ...workerEnv(), ...restart.env },
        logFile: join(cluster.logDir, `${worker.name}.start-${n}.log`),
      });
      restarted.push(next);
      return next;
    },
    allWorkers: all,
    byPid: (pid) => all().find((w) => w.pid === pid),
    freeze(worker) {
      frozen.add(worker.pid);
      freeze(worker.pid);
    },
    thaw(worker) {
      thaw(worker.pid);
      frozen.delete(worker.pid);
    },
    describe(lines = 60) {
      const extra = restarted.map((w) => `\n==== ${w.name} restarted, pid ${w.pid} (last ${lines} lines) ====\n${tail(w.output(), lines)}`);
      return `${cluster.describe(lines)}${extra.join('')}`;
    },
    stop() {
      stopping ??= (async () => {
        // A frozen process ignores SIGTERM until it runs again.
        for (const pid of frozen) thaw(pid);
        frozen.clear();
        const failures: string[] = [];
        await Promise.all(restarted.map((w) => w.kill('SIGTERM'))).catch((e: unknown) => failures.push(String(e)));
        await cluster.stop().catch((e: unknown) => failures.push(String(e)));
        const survivors = all().filter((w) => w.status === undefined && isProcessAlive(w.pid));
        if (survivors.length > 0) failures.push(`workers still running: ${survivors.map((w) => w.pid).join(', ')}`);
        if (failures.length > 0) throw new Error(`stopping the recovery cluster: ${failures.join('; ')}`);
      })();
      return stopping;
    },
  };
  return rc;
}

/** Runs a test body; on failure appends the processes' output to the error. */
export function withOutput(rc: () => RecoveryCluster | undefined, body: () => Promise<void>): () => Promise<void> {
  return withProcessOutput(() => rc()?.describe(60), body);
}

// ---- RabbitMQ virtual hosts

async function rabbitmqctl(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('rabbitmqctl', args, { timeout: 60_000 });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`\`rabbitmqctl ${args.join(' ')}\` failed: ${e.stderr || e.message}`);
  }
}

/** A virtual host of the test's own, where `guest` may do everything; answers its AMQP URL. */
export async function createVhost(base = TEST_AMQP_URL): Promise<{ vhost: string; url: string; user: string }> {
  const vhost = `test-${randomUUID()}`;
  const parsed = new URL(base);
  const user = decodeURIComponent(parsed.username) || 'guest';
  await rabbitmqctl(['add_vhost', vhost]);
  await rabbitmqctl(['set_permissions', '-p', vhost, user, '.*', '.*', '.*']);
  parsed.pathname = `/${encodeURIComponent(vhost)}`;
  return { vhost, url: parsed.toString(), user };
}

export async function deleteVhost(vhost: string): Promise<void> {
  await rabbitmqctl(['delete_vhost', vhost]);
}

/** `rabbitmqctl close_all_connections -p VHOST REASON`: the broker drops every connection of the virtual host. */
export async function closeAllConnections(vhost: string, reason = 'test'): Promise<void> {
  await rabbitmqctl(['close_all_connections', '-p', vhost, reason]);
}

// ---- small things

function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/** A random integer in [min, max]. */
export function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

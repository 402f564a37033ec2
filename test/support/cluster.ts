/**
 * A Shipdeck cluster of real processes (spec §3): `shipdeck master` and `shipdeck worker`
 * processes sharing one PostgreSQL schema and one broker queue of the cluster's own, started from
 * this repository on one temporary installation directory. Every process-level suite (cluster,
 * lifecycle, recovery, chaos) and tools/bench build their clusters here.
 *
 * ```ts
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
 * Imports no test framework, so that scripts can use it too.
 */
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LEDGER_PLUGIN_DIR } from './ledger';
import { MasterProcess, startMasterProcess } from './master-process';
import { describeOutput, messageOf, withProcessOutput } from './output-log';
import { freeze, isProcessAlive, thaw } from './processes';
import { Api, api } from './rest-client';
import { TEST_AMQP_URL, TEST_DATABASE_URL, databaseUrlWithSchema, deleteQueue, dropSchema, requireServices } from './services';
import { ensureBundles, makeHome } from './shipdeck-process';
import { StartWorkerOptions, WorkerProcess, startWorker } from './worker-process';

/** Options of {@link startCluster}. */
export interface ClusterOptions {
  /** How many masters (at least 1). */
  masters: number;
  /** How many workers to start with, side by side, named `worker-1`, … (0 is fine: add them later). */
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
  /** Default {@link TEST_AMQP_URL}: `task.queue.url` of every process (amqp:// or stomp://). */
  amqpUrl?: string;
  /**
   * For a broker other than the RabbitMQ of {@link requireServices} (e.g. Artemis): how to check
   * that it answers, and how to delete the cluster's queue at stop. Default: RabbitMQ's.
   */
  queueBroker?: { require(): Promise<void>; deleteQueue(queueName: string): Promise<void> };
}

/** Options of {@link Cluster.addWorker}. */
export interface AddWorkerOptions {
  /** `-name`; default `worker-N`. Names the log file too. */
  name?: string;
  /** Its installation directory; default the cluster's (see {@link Cluster.cloneHome}). */
  home?: string;
  /** SHIPDECK_* variables for this worker only, on top of the cluster's. */
  env?: Record<string, string>;
  /** `-api`; default the cluster's masters' URLs in turn. */
  api?: string;
  /** `-master` values; default every master, extra ones included (`localhost:<workerPort>`). */
  masters?: string[];
  /** `-work-dir`; default a new directory under the cluster's root. */
  workDir?: string;
  wait?: StartWorkerOptions['wait'];
  readyTimeoutMs?: number;
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
  /** The masters started with the cluster. */
  readonly masters: MasterProcess[];
  /** Masters added by {@link Cluster.addMaster}. */
  readonly extraMasters: MasterProcess[];
  /** Every master, extra ones included, with a name and URL each. */
  readonly endpoints: { name: string; url: string }[];
  /** A REST client per master started with the cluster. */
  readonly clients: Api[];
  /** Every worker process started so far, in start order (restarts and exited ones included). */
  readonly workers: WorkerProcess[];
  /** The SHIPDECK_* environment of a process of this cluster, with `extra` on top. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Starts one more worker. */
  addWorker(options?: AddWorkerOptions): Promise<WorkerProcess>;
  /** Starts a worker again on the same work directory, name, home and environment (plus `env`); it must have exited. */
  restartWorker(worker: WorkerProcess, options?: { env?: Record<string, string>; api?: string }): Promise<WorkerProcess>;
  /** Starts one more master on the cluster's database and queue, with its own home and ports. */
  addMaster(options: { name: string; home: string; env?: Record<string, string> }): Promise<MasterProcess>;
  /** The worker process (of any start) with this pid. */
  byPid(pid: number): WorkerProcess | undefined;
  /** SIGSTOPs a worker; {@link Cluster.stop} thaws it again if the test did not. */
  freeze(worker: WorkerProcess): void;
  /** SIGCONT: a frozen worker runs on. */
  thaw(worker: WorkerProcess): void;
  /** A copy of the cluster's home, to be changed (e.g. a file added to conf/); removed with the cluster. */
  cloneHome(): string;
  /** A directory under the sandbox, created. */
  scratchDir(name: string): string;
  /** The last `lines` of every process's output, labelled, for failure messages. */
  describe(lines?: number): string;
  /**
   * Thaws frozen workers, SIGTERMs every process (SIGKILL to those still running after 10 s),
   * drops schema and queue, removes `root`; fails naming what did not work. Idempotent.
   */
  stop(): Promise<void>;
}

/**
 * Checks the services ({@link requireServices}), builds dist/ when stale, starts the masters
 * (together: migrations are guarded) and waits until each answers `GET /health/ready`, then
 * starts the workers and waits until each consumes. On failure everything started is stopped and
 * the error carries the processes' output.
 */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  if (!Number.isInteger(options.masters) || options.masters < 1) throw new Error('a cluster needs at least one master');
  await requireServices({ databaseUrl: options.databaseUrl, amqpUrl: options.queueBroker ? undefined : options.amqpUrl });
  await options.queueBroker?.require();
  ensureBundles();
  const root = mkdtempSync(join(tmpdir(), 'shipdeck-cluster-'));
  const home = makeHome(root, options.extraPlugins ?? [LEDGER_PLUGIN_DIR]);
  const sandbox = join(root, 'sandbox');
  const logDir = join(root, 'logs');
  mkdirSync(sandbox);
  mkdirSync(logDir);
  const schema = `cluster_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const baseDatabaseUrl = options.databaseUrl ?? TEST_DATABASE_URL;
  const databaseUrl = databaseUrlWithSchema(schema, baseDatabaseUrl);
  const amqpUrl = options.amqpUrl ?? TEST_AMQP_URL;
  const queueName = `test-${randomUUID()}`;
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({
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
    ...extra,
  });

  const masters: MasterProcess[] = [];
  const extraMasters: MasterProcess[] = [];
  const workers: WorkerProcess[] = [];
  const frozen = new Set<number>();
  let stopping: Promise<void> | undefined;
  let nextApi = 0;
  let workerCount = 0;
  const allMasters = () => [...masters, ...extraMasters];

  const startMaster = async (name: string, masterHome: string, extra: Record<string, string> = {}): Promise<MasterProcess> =>
    startMasterProcess({
      name,
      env: env({ ...options.masterEnv, ...extra, SHIPDECK_HOME: masterHome }),
      logFile: join(logDir, `${name}.log`),
    });

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
    extraMasters,
    get endpoints() {
      return allMasters().map((m) => ({ name: m.name, url: m.url }));
    },
    get clients() {
      return masters.map((m) => api(m.url));
    },
    workers,
    env,
    async addWorker(add: AddWorkerOptions = {}) {
      if (stopping) throw new Error('the cluster is stopping');
      const name = add.name ?? `worker-${++workerCount}`;
      const workerHome = add.home ?? home;
      const worker = await startWorker({
        home: workerHome,
        api: add.api ?? masters[nextApi++ % masters.length].url,
        masters: add.masters ?? allMasters().map((m) => `localhost:${m.workerPort}`),
        name,
        workDir: add.workDir ?? join(root, 'work', `${name}-${randomUUID().slice(0, 8)}`),
        env: env({ ...options.workerEnv, ...add.env, SHIPDECK_HOME: workerHome }),
        logFile: join(logDir, `${name}.log`),
        wait: add.wait,
        readyTimeoutMs: add.readyTimeoutMs,
      });
      workers.push(worker);
      return worker;
    },
    async restartWorker(worker, restart = {}) {
      if (stopping) throw new Error('the cluster is stopping');
      if (worker.status === undefined) throw new Error(`worker ${worker.name} (pid ${worker.pid}) is still running`);
      const next = await startWorker({
        ...worker.options,
        api: restart.api ?? worker.options.api,
        env: { ...worker.options.env, ...restart.env },
        wait: 'ready',
      });
      workers.push(next);
      return next;
    },
    async addMaster(add) {
      const master = await startMaster(add.name, add.home, add.env);
      extraMasters.push(master);
      return master;
    },
    byPid: (pid) => workers.find((w) => w.pid === pid),
    freeze(worker) {
      frozen.add(worker.pid);
      freeze(worker.pid);
    },
    thaw(worker) {
      thaw(worker.pid);
      frozen.delete(worker.pid);
    },
    cloneHome() {
      const copy = mkdtempSync(join(root, 'home-copy-'));
      cpSync(home, copy, { recursive: true });
      return copy;
    },
    scratchDir(name) {
      const dir = join(sandbox, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    },
    describe(lines = 80) {
      const output = describeOutput([...allMasters(), ...workers], lines);
      return `cluster root ${root} (full logs in ${logDir}; SHIPDECK_E2E_KEEP=1 keeps them)${output}`;
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
    // A frozen process ignores SIGTERM until it runs again.
    for (const pid of frozen) thaw(pid);
    frozen.clear();
    // Workers first: a master going away must not make a worker's last writes fail.
    await step('stop workers', () => Promise.all(workers.map((w) => w.kill('SIGTERM'))));
    await step('stop masters', () => Promise.all(allMasters().map((m) => m.kill('SIGTERM'))));
    await step('close master logs', () => Promise.all(allMasters().map((m) => m.closeLog())));
    // Only processes not seen to exit: the pid of one that did may belong to another process by now.
    const survivors = workers.filter((w) => w.status === undefined && isProcessAlive(w.pid));
    if (survivors.length > 0) failures.push(`workers still running: ${survivors.map((w) => w.pid).join(', ')}`);
    await step(`drop schema ${schema}`, () => dropSchema(schema, baseDatabaseUrl));
    await step(`delete queue ${queueName}`, () => (options.queueBroker ? options.queueBroker.deleteQueue(queueName) : deleteQueue(queueName, amqpUrl)));
    if (!process.env.SHIPDECK_E2E_KEEP) await step(`remove ${root}`, async () => rmSync(root, { recursive: true, force: true }));
    if (failures.length > 0) throw new Error(`stopping the cluster: ${failures.join('; ')}`);
  }

  try {
    await Promise.all(Array.from({ length: options.masters }, async (_, i) => masters.push(await startMaster(`master-${i + 1}`, home))));
    // In name order, whichever got ready first.
    masters.sort((x, y) => x.name.localeCompare(y.name, 'en', { numeric: true }));
    await Promise.all(Array.from({ length: options.workers }, () => cluster.addWorker()));
    workers.sort((x, y) => x.name.localeCompare(y.name, 'en', { numeric: true }));
  } catch (error) {
    const described = cluster.describe();
    await cluster.stop().catch(() => undefined);
    throw new Error(`starting the cluster failed: ${messageOf(error)}\n${described}`);
  }
  return cluster;
}

/** Runs a test body; when it fails, appends the cluster's processes' output to the error. */
export function withClusterOutput(cluster: () => Cluster | undefined, body: () => Promise<void>, lines = 80): () => Promise<void> {
  return withProcessOutput(() => cluster()?.describe(lines), body);
}

/**
 * What every cluster suite checks first (for a `beforeAll` with a long timeout): the services
 * answer and dist/ is fresh, so that a missing service or a long build fails there, not as a
 * cluster that did not start in time.
 */
export async function requireClusterPrerequisites(): Promise<void> {
  await requireServices();
  ensureBundles();
}

/**
 * `shipdeck master` processes: the one wrapper every suite uses (clusters and the embedded
 * end-to-end tests alike), and {@link startMaster} for a master with an installation directory of
 * its own and the embedded defaults (SQLite, in-process worker).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsRequest } from './https';
import { HasOutput, OutputLog, messageOf } from './output-log';
import { pollUntil } from './poll';
import { ExitStatus, ShipdeckProcess, ShipdeckRun, freePort, makeHome, runShipdeck } from './shipdeck-process';

const READY_TIMEOUT_MS = 30_000;

/** Options of {@link startMasterProcess}. */
export interface MasterProcessOptions {
  /** Names it in messages and names its log file. */
  name: string;
  /** Its SHIPDECK_* environment but the ports, which are chosen here (free ones unless given). */
  env: Record<string, string>;
  /** `server.port` (REST API, health); a free one when omitted. */
  port?: number;
  /** `server.workerPort` (command channel); a free one when omitted. */
  workerPort?: number;
  /** Where its full output goes (appended across restarts); none when omitted. */
  logFile?: string;
  /** It serves HTTPS (`server.tls.*` in `env`) with a certificate this CA signed: `url` is https. */
  httpsCa?: Buffer;
}

/** A running `shipdeck master` process, started by {@link startMasterProcess}. */
export interface MasterProcess extends HasOutput {
  readonly name: string;
  /** `http://127.0.0.1:<port>` (`https://` with `httpsCa`) */
  readonly url: string;
  readonly port: number;
  /** `server.workerPort`, what workers get as `-master localhost:<workerPort>`. */
  readonly workerPort: number;
  /** Its installation directory (SHIPDECK_HOME; another one after a restart with a new home). */
  readonly home: string;
  /** Pid of the current process (changes on restart). */
  readonly pid: number;
  /** Resolves when the current process ended. */
  readonly exited: Promise<ExitStatus>;
  /** The current process's exit status once ended, else undefined. */
  readonly status: ExitStatus | undefined;
  /** Sends `signal` (default SIGTERM) and waits for the exit (SIGKILL after 10 s for other signals). */
  kill(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /**
   * Starts it again (same ports, home, environment) and waits until it is ready; it must have
   * exited. `env` goes on top of its environment from now on, e.g. another SHIPDECK_HOME: the
   * same master restarted with a new configuration (a rolling upgrade).
   */
  restart(env?: Record<string, string>): Promise<void>;
  /** Its output so far, across restarts (stderr lines prefixed `[err]`). */
  output(): string;
  /** Flushes and closes its log file (after the last exit). */
  closeLog(): Promise<void>;
}

/** Starts a master and waits until `GET /health/ready` answers 200; kills it when it never does. */
export async function startMasterProcess(options: MasterProcessOptions): Promise<MasterProcess> {
  const port = options.port ?? (await freePort());
  const workerPort = options.workerPort ?? (await freePort());
  const url = `${options.httpsCa ? 'https' : 'http'}://127.0.0.1:${port}`;
  let env: Record<string, string> = { ...options.env, SHIPDECK_SERVER_PORT: String(port), SHIPDECK_SERVER_WORKER_PORT: String(workerPort) };
  const log = new OutputLog(options.logFile);
  let current = new ShipdeckProcess(['master'], env, log);
  const master: MasterProcess = {
    name: options.name,
    url,
    port,
    workerPort,
    get home() {
      return env.SHIPDECK_HOME ?? '';
    },
    get label() {
      return `${options.name} ${url} pid ${current.pid}`;
    },
    get pid() {
      return current.pid;
    },
    get exited() {
      return current.exited;
    },
    get status() {
      return current.status;
    },
    kill: (signal) => current.kill(signal),
    async restart(extra = {}) {
      if (current.status === undefined) throw new Error(`${options.name} (pid ${current.pid}) is still running; kill it first`);
      env = { ...env, ...extra };
      current = new ShipdeckProcess(['master'], env, log);
      await waitReady(master, current, options.httpsCa);
    },
    output: () => log.text(),
    closeLog: () => log.close(),
  };
  try {
    await waitReady(master, current, options.httpsCa);
  } catch (error) {
    await current.kill('SIGKILL');
    await log.close();
    throw error;
  }
  return master;
}

/** Waits until `GET /health/ready` answers 200; fails at once when the process exits first. */
async function waitReady(master: MasterProcess, spawned: ShipdeckProcess, httpsCa?: Buffer): Promise<void> {
  let last = 'no answer yet';
  await pollUntil(
    async () => {
      if (spawned.status) {
        throw new Error(
          `${master.name} exited before it was ready (code=${spawned.status.code} signal=${spawned.status.signal}):\n${master.output()}`,
        );
      }
      try {
        const ready = `${master.url}/health/ready`;
        const response = httpsCa
          ? await httpsRequest('GET', ready, httpsCa, { timeoutMs: 2_000 })
          : await fetch(ready, { signal: AbortSignal.timeout(2_000) }).then(async (r) => ({ status: r.status, text: await r.text() }));
        last = `HTTP ${response.status} ${response.text}`;
        return response.status === 200;
      } catch (error) {
        last = messageOf((error as Error).cause ?? error);
        return false;
      }
    },
    {
      timeoutMs: READY_TIMEOUT_MS,
      describe: () => `${master.name} not ready at ${master.url}/health/ready within ${READY_TIMEOUT_MS} ms (last: ${last}):\n${master.output()}`,
    },
  );
}

// ---- a master of its own (the embedded default)

/** A master from {@link startMaster}: it owns its installation directory. */
export interface StandaloneMaster extends MasterProcess {
  /** Kills the process if alive and removes the installation directory (`SHIPDECK_E2E_KEEP=1` keeps it). */
  cleanup(): Promise<void>;
}

/**
 * The environment of a master of its own: the embedded defaults (SQLite in the home, in-process
 * worker), debug logs, a fast reconciler, then `extra`.
 */
export function embeddedEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    SHIPDECK_HOME: home,
    SHIPDECK_DB_URL: `file:${join(home, 'data', 'shipdeck.db')}`,
    SHIPDECK_TASK_RECOVERY_DIR: join(home, 'work'),
    SHIPDECK_TASK_RECONCILE_INTERVAL: '500ms',
    SHIPDECK_LOG_LEVEL: 'debug',
    ...extra,
  };
}

/** Every standalone master not yet cleaned up, so that nothing outlives the test file. */
const standalone = new Set<StandaloneMaster>();

/** Cleans up every master {@link startMaster} started (for `afterAll`). */
export async function cleanupAllMasters(): Promise<void> {
  await Promise.all([...standalone].map((m) => m.cleanup()));
}

/** A fresh temporary installation directory for a master of its own. */
export function makeStandaloneHome(): string {
  const parent = join(tmpdir(), 'shipdeck-e2e');
  mkdirSync(parent, { recursive: true });
  return makeHome(parent);
}

/**
 * Starts a master with an installation directory of its own (see {@link embeddedEnv}) and
 * waits until it is ready.
 */
export async function startMaster(options: { env?: Record<string, string>; httpsCa?: Buffer } = {}): Promise<StandaloneMaster> {
  const home = makeStandaloneHome();
  let master: MasterProcess;
  try {
    master = await startMasterProcess({ name: 'master', env: embeddedEnv(home, options.env), httpsCa: options.httpsCa });
  } catch (error) {
    rmSync(home, { recursive: true, force: true });
    throw error;
  }
  const own: StandaloneMaster = Object.assign(master, {
    async cleanup() {
      standalone.delete(own);
      if (master.status === undefined) await master.kill('SIGKILL');
      await master.closeLog();
      if (!process.env.SHIPDECK_E2E_KEEP) rmSync(home, { recursive: true, force: true });
    },
  });
  standalone.add(own);
  return own;
}

/** Runs a master of its own to its end with a deadline (e.g. one that must refuse to start). */
export async function runMasterToExit(options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ShipdeckRun> {
  const home = makeStandaloneHome();
  try {
    const env = embeddedEnv(home, { SHIPDECK_SERVER_PORT: String(await freePort()), ...options.env });
    return await runShipdeck(['master'], { env, timeoutMs: options.timeoutMs ?? 10_000 });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

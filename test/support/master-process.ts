import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pollUntil } from './poll';

export { api, stepOf, summarize, waitForTask } from './api';
export type { Api, ApiResponse, ErrorWire, StepWire, TaskState, TaskWire } from './api';

/** The repository (installation directory) the master runs from. */
export const REPO_ROOT = resolve(__dirname, '..', '..');

const READY_TIMEOUT_MS = 20_000;
const STOP_TIMEOUT_MS = 15_000;
const OUTPUT_LINES = 600;

export interface StartMasterOptions {
  /** Installation directory (SHIPDECK_HOME); a new temp dir with plugins/ and conf/ when omitted. */
  home?: string;
  /** Extra environment, on top of the test defaults (they may be overridden). */
  env?: Record<string, string>;
  /** HTTP port; a free one when omitted. */
  port?: number;
}

/** How a master process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `shipdeck master` process, started by {@link startMaster}. */
export interface MasterProcess {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly home: string;
  /** Pid of the current process (changes on restart). */
  readonly pid: number;
  /** Sends `signal` (SIGTERM by default) and waits for the exit; SIGKILL when it takes too long. */
  stop(signal?: NodeJS.Signals): Promise<ExitStatus>;
  /** SIGKILL, and waits until the process is gone. */
  kill(): Promise<ExitStatus>;
  /** Starts a new master on the same home, port and database; the previous one must have exited. */
  restart(): Promise<void>;
  /** The last lines the process (and the previous ones of this master) wrote. */
  output(): string;
  /** Kills the process if alive and removes the home directory when this harness created it. */
  cleanup(): Promise<void>;
}

/** Every master not yet cleaned up, so that nothing outlives the test file. */
const live = new Set<MasterProcess>();
const children = new Set<ChildProcess>();

/** Cleans up every master this harness started (for `afterAll`). */
export async function cleanupAllMasters(): Promise<void> {
  await Promise.all([...live].map((m) => m.cleanup()));
}

process.once('exit', () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
});

/** A TCP port nobody listens on right now: listen on 0, read it, close. */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** A fresh installation directory: the repository's plugins/ and an empty conf/. */
export function makeHome(): string {
  const home = mkdtempSync(join(tmpdir(), 'shipdeck-e2e-'));
  const plugins = join(REPO_ROOT, 'plugins');
  if (existsSync(plugins)) cpSync(plugins, join(home, 'plugins'), { recursive: true });
  else mkdirSync(join(home, 'plugins'));
  mkdirSync(join(home, 'conf'));
  return home;
}

/** The environment of a test master: only the SHIPDECK_* variables given here count. */
export function masterEnv(home: string, port: number, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHIPDECK_')));
  return {
    ...inherited,
    SHIPDECK_HOME: home,
    SHIPDECK_SERVER_PORT: String(port),
    SHIPDECK_DB_URL: `file:${join(home, 'data', 'shipdeck.db')}`,
    SHIPDECK_TASK_RECOVERY_DIR: join(home, 'work'),
    SHIPDECK_TASK_RECONCILE_INTERVAL: '500ms',
    SHIPDECK_LOG_LEVEL: 'debug',
    ...extra,
  };
}

/** Output of a process, the last lines only. */
class RingBuffer {
  private lines: string[] = [];
  private partial: Record<string, string> = {};

  constructor(private readonly capacity: number) {}

  write(stream: string, chunk: Buffer | string): void {
    const text = (this.partial[stream] ?? '') + chunk.toString();
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const line of parts) this.push(`[${stream}] ${line}`);
  }

  mark(text: string): void {
    this.push(`---- ${text}`);
  }

  toString(): string {
    const pending = Object.entries(this.partial)
      .filter(([, v]) => v !== '')
      .map(([stream, v]) => `[${stream}] ${v}`);
    return [...this.lines, ...pending].join('\n');
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.capacity) this.lines.splice(0, this.lines.length - this.capacity);
  }
}

interface Spawned {
  child: ChildProcess;
  exited: Promise<ExitStatus>;
  status: ExitStatus | undefined;
}

/** Spawns `node bin/shipdeck.js master` from the repository, feeding its output to `sink`. */
function spawnMaster(env: NodeJS.ProcessEnv, sink: RingBuffer): Spawned {
  ensureBuilt();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'shipdeck.js'), 'master'], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  child.stdout?.on('data', (chunk: Buffer) => sink.write('out', chunk));
  child.stderr?.on('data', (chunk: Buffer) => sink.write('err', chunk));
  const spawned: Spawned = {
    child,
    status: undefined,
    exited: new Promise((resolveExit) => {
      child.once('exit', (code, signal) => {
        spawned.status = { code, signal };
        children.delete(child);
        sink.mark(`process ${child.pid} exited: code=${code} signal=${signal}`);
        resolveExit(spawned.status);
      });
      child.once('error', (error) => {
        spawned.status = { code: null, signal: null };
        children.delete(child);
        sink.mark(`process could not start: ${error.message}`);
        resolveExit(spawned.status);
      });
    }),
  };
  sink.mark(`started process ${child.pid}`);
  return spawned;
}

/** Starts a master and waits until `GET /health/ready` answers 200. */
export async function startMaster(options: StartMasterOptions = {}): Promise<MasterProcess> {
  ensureBuilt();
  const ownsHome = options.home === undefined;
  const home = options.home ?? makeHome();
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const env = masterEnv(home, port, options.env);
  const sink = new RingBuffer(OUTPUT_LINES);
  let current: Spawned = spawnMaster(env, sink);

  const waitGone = async (): Promise<ExitStatus> => {
    const timer = setTimeout(() => {
      if (current.child.pid && current.status === undefined) current.child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    try {
      return await current.exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const master: MasterProcess = {
    url,
    port,
    home,
    get pid() {
      return current.child.pid ?? -1;
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (current.status) return current.status;
      current.child.kill(signal);
      return waitGone();
    },
    async kill() {
      if (current.status) return current.status;
      process.kill(current.child.pid as number, 'SIGKILL');
      return waitGone();
    },
    async restart() {
      if (current.status === undefined) throw new Error(`master ${current.child.pid} is still running; stop it first`);
      current = spawnMaster(env, sink);
      await waitReady(url, current, sink);
    },
    output: () => sink.toString(),
    async cleanup() {
      live.delete(master);
      if (current.status === undefined) await master.kill();
      if (ownsHome && !process.env.SHIPDECK_E2E_KEEP) rmSync(home, { recursive: true, force: true });
    },
  };
  live.add(master);
  try {
    await waitReady(url, current, sink);
  } catch (error) {
    await master.cleanup();
    throw error;
  }
  return master;
}

async function waitReady(url: string, spawned: Spawned, sink: RingBuffer): Promise<void> {
  let last = 'no answer yet';
  await pollUntil(
    async () => {
      if (spawned.status) {
        throw new Error(
          `master exited before it was ready (code=${spawned.status.code} signal=${spawned.status.signal})\n${sink}`,
        );
      }
      try {
        const response = await fetch(`${url}/health/ready`);
        last = `HTTP ${response.status} ${await response.text()}`;
        return response.status === 200;
      } catch (error) {
        last = String((error as Error).cause ?? error);
        return false;
      }
    },
    {
      timeoutMs: READY_TIMEOUT_MS,
      intervalMs: 100,
      describe: () => `master not ready at ${url}/health/ready within ${READY_TIMEOUT_MS} ms (last: ${last})\n${sink}`,
    },
  );
}

/**
 * Runs a process to its end with a deadline (e.g. a master that must refuse to start), answering
 * its exit status and output.
 */
export async function runMasterToExit(
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ExitStatus & { stdout: string; stderr: string; elapsedMs: number; timedOut: boolean }> {
  ensureBuilt();
  const home = makeHome();
  try {
    const port = await freePort();
    const env = masterEnv(home, port, options.env);
    const started = Date.now();
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'shipdeck.js'), 'master'], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs ?? 10_000);
    const status = await new Promise<ExitStatus>((done) =>
      child.once('close', (code, signal) => done({ code, signal })),
    );
    clearTimeout(timer);
    children.delete(child);
    return { ...status, stdout, stderr, elapsedMs: Date.now() - started, timedOut };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

let built = false;

/**
 * Builds dist/ when it is missing or older than a source file, so that the tests never run a
 * stale bundle. `SHIPDECK_E2E_SKIP_BUILD=1` trusts dist/ as it is.
 */
function ensureBuilt(): void {
  if (built || process.env.SHIPDECK_E2E_SKIP_BUILD) return;
  const bundle = join(REPO_ROOT, 'dist', 'master.js');
  const bundleTime = existsSync(bundle) ? statSync(bundle).mtimeMs : 0;
  const newest = Math.max(...['apps', 'libs'].map((d) => newestMtime(join(REPO_ROOT, d))));
  if (newest > bundleTime) {
    const started = Date.now();
    try {
      execFileSync(process.execPath, [join(REPO_ROOT, 'tools', 'build.mjs')], { cwd: REPO_ROOT, stdio: 'pipe' });
    } catch (error) {
      // build.mjs bundles every app; only the master's bundle matters here.
      const fresh = existsSync(bundle) && statSync(bundle).mtimeMs >= started - 1000;
      if (!fresh) throw new Error(`building dist/master.js failed: ${(error as Error).message}`);
      const firstLines = (error as Error).message.split('\n').slice(0, 4).join('\n');
      console.warn(`tools/build.mjs failed, but dist/master.js was rebuilt; going on:\n${firstLines}`);
    }
  }
  built = true;
}

function newestMtime(dir: string): number {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules') continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Wraps a test body so that a failure carries the output of the given masters: the log lines
 * are what explains a failed end-to-end test.
 */
export function withOutput(masters: () => (MasterProcess | undefined)[], body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (error) {
      const logs = masters()
        .filter((m): m is MasterProcess => m !== undefined)
        .map((m) => `\n==== output of master ${m.url} (home ${m.home}) ====\n${tail(m.output(), 150)}`)
        .join('\n');
      if (error instanceof Error) {
        error.message += logs;
        throw error;
      }
      throw new Error(`${String(error)}${logs}`);
    }
  };
}

function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

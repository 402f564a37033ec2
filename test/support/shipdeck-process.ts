/**
 * One `node bin/shipdeck.js ROLE …` process of this repository (master, worker or the client
 * CLI): spawning with a clean SHIPDECK_* environment, output capture, exit tracking, signals with
 * a SIGKILL escalation, and the bundles it runs. Imports no test framework and no `@shipdeck/*`
 * alias at run time, so that scripts (tools/bench) can use it too.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { OutputLog, messageOf } from './output-log';
import { TEST_CREDENTIALS_ENV } from './credentials';

/** The repository (installation directory) the processes run from. */
export const REPO_ROOT = resolve(__dirname, '..', '..');

/** How a process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** How long a gentler signal than SIGKILL gets before the harness sends SIGKILL. */
const STOP_GRACE_MS = 10_000;
const SHIPDECK_BIN = join(REPO_ROOT, 'bin', 'shipdeck.js');

/** Every process started here and not yet ended: none may outlive the test run. */
const running = new Set<ShipdeckProcess>();

process.once('exit', () => {
  for (const spawned of running) {
    try {
      process.kill(spawned.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
});

/** The parent's environment without any SHIPDECK_* variable: only what a test sets counts. */
export function inheritedEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHIPDECK_')));
}

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

/**
 * A fresh installation directory (SHIPDECK_HOME) under `parent`: an empty `conf/`, and
 * `plugins/` holding the repository's plugins plus each directory of `extraPlugins` (copied as
 * `plugins/<its name>/`).
 */
export function makeHome(parent: string, extraPlugins: readonly string[] = []): string {
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

let built = false;

/**
 * Builds dist/ (tools/build.mjs) when dist/master.js or dist/worker.js is missing or older than a
 * source file under apps/ or libs/, so that a test never runs stale bundles.
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

/** One spawned `node bin/shipdeck.js ARGS…`, its output going to `log`. */
export class ShipdeckProcess {
  readonly child: ChildProcess;
  /** Resolves once the process ended and its output is complete. */
  readonly exited: Promise<ExitStatus>;
  /** The exit status once ended, else undefined. */
  status: ExitStatus | undefined;

  /** `env` is the whole SHIPDECK_* environment: nothing SHIPDECK_* is inherited from the test. */
  constructor(
    args: string[],
    env: Record<string, string>,
    readonly log: OutputLog,
  ) {
    ensureBundles();
    this.child = spawn(process.execPath, [SHIPDECK_BIN, ...args], {
      cwd: REPO_ROOT,
      env: { ...inheritedEnv(), ...TEST_CREDENTIALS_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(this);
    this.child.stdout?.on('data', (chunk: Buffer) => log.write('out', chunk));
    this.child.stderr?.on('data', (chunk: Buffer) => log.write('err', chunk));
    this.exited = new Promise((resolveExit) => {
      // Resolved at 'close', when the output is complete; a descendant still holding the pipes
      // (a command in its own process group) must not delay it more than a moment.
      let exit: ExitStatus | undefined;
      const finish = () => {
        if (this.status || !exit) return;
        this.status = exit;
        running.delete(this);
        log.mark(`process ${this.child.pid} exited: code=${exit.code} signal=${exit.signal}`);
        resolveExit(exit);
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
        resolveExit(this.status);
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

/** What {@link runShipdeck} answers. */
export interface ShipdeckRun extends ExitStatus {
  stdout: string;
  stderr: string;
  elapsedMs: number;
  /** Whether the deadline passed and the process was SIGKILLed. */
  timedOut: boolean;
}

/**
 * Runs `node bin/shipdeck.js ARGS…` to its end with a deadline (the client CLI, or a master that
 * must refuse to start); `env` holds its SHIPDECK_* variables.
 */
export async function runShipdeck(
  args: string[],
  options: { env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ShipdeckRun> {
  const started = Date.now();
  const log = new OutputLog();
  let stdout = '';
  let stderr = '';
  const spawned = new ShipdeckProcess(args, options.env ?? {}, log);
  spawned.child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
  spawned.child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void spawned.kill('SIGKILL');
  }, options.timeoutMs ?? 30_000);
  try {
    const status = await spawned.exited;
    return { ...status, stdout, stderr, elapsedMs: Date.now() - started, timedOut };
  } finally {
    clearTimeout(timer);
  }
}

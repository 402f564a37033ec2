/** `shipdeck worker` processes: start, readiness, output, signals. */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HasOutput, OutputLog } from './output-log';
import { pollUntil } from './poll';
import { ExitStatus, ShipdeckProcess } from './shipdeck-process';

const READY_TIMEOUT_MS = 30_000;
/** The line a worker logs once it consumes (after `worker NEW -> RUNNING` and the consumer's attach). */
const WORKER_STARTED = /Shipdeck worker \S+ started/;

/** Options of {@link startWorker}. */
export interface StartWorkerOptions {
  /** Installation directory (SHIPDECK_HOME) of the worker. */
  home: string;
  /** `-api URL`: a master's REST endpoint. */
  api: string;
  /** `-master HOST:PORT` flags (command channel); none when empty. */
  masters?: string[];
  /** `-name`. */
  name: string;
  /** `-work-dir`; created when missing. */
  workDir: string;
  /** The whole SHIPDECK_* environment of the worker (nothing else SHIPDECK_* is inherited). */
  env: Record<string, string>;
  /** Where its full output goes (appended to); none when omitted. */
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
export interface WorkerProcess extends HasOutput {
  readonly name: string;
  readonly pid: number;
  readonly home: string;
  readonly workDir: string;
  /** The options it was started with (a restart on the same work directory reuses them). */
  readonly options: StartWorkerOptions;
  /** Its worker id (kept in `<workDir>/worker-id`), as task views show it; undefined before it wrote one. */
  readonly id: string | undefined;
  /** Resolves when the process ended (its output complete), for whatever reason. */
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
  mkdirSync(options.workDir, { recursive: true });
  const log = new OutputLog(options.logFile);
  const args = ['worker', '-api', options.api, '-work-dir', options.workDir, '-name', options.name];
  for (const master of options.masters ?? []) args.push('-master', master);
  const spawned = new ShipdeckProcess(args, options.env, log);
  const idFile = join(options.workDir, 'worker-id');
  let id: string | undefined;

  const waitForOutput = async (pattern: RegExp, timeoutMs = READY_TIMEOUT_MS) => {
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
    options,
    get label() {
      return `${options.name} pid ${spawned.pid}`;
    },
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
      await waitForOutput(WORKER_STARTED, options.readyTimeoutMs ?? READY_TIMEOUT_MS);
    } catch (error) {
      await spawned.kill('SIGKILL');
      throw error;
    }
  }
  return worker;
}

import { ChildProcess, spawn } from 'node:child_process';
import { errorMessage } from './error-text';

/** How to run one shell command for a step. */
export interface ShellCommand {
  /** Passed to `/bin/sh -c`. */
  command: string;
  cwd: string;
  /** Added to the worker's own environment. */
  env?: Record<string, string>;
  /** Kill the command after this long; none when undefined. */
  timeoutMs?: number;
  signal: AbortSignal;
  /** Receives stdout and stderr as they arrive. */
  log(text: string): void;
}

/** How long to wait for the output pipes to close once the command's process group is gone. */
const PIPE_CLOSE_GRACE_MS = 5_000;

/**
 * Runs `/bin/sh -c COMMAND` in its own process group and resolves when it exits with code 0.
 *
 * Nothing outlives the call: on abort, on timeout and also after a normal exit the whole process
 * group is killed with SIGKILL, so background children (`sleep 100 &`) die too. A long-running
 * service must leave the group itself (`setsid ./server &`). Rejects with the exit code or
 * signal, the timeout, or the abort.
 */
export function runShell(options: ShellCommand): Promise<void> {
  const { signal, log, timeoutMs } = options;
  if (signal.aborted) return Promise.reject(new Error('aborted before the command started'));

  return new Promise<void>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn('/bin/sh', ['-c', options.command], {
        cwd: options.cwd,
        env: { ...process.env, ...options.env },
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      reject(new Error(`cannot run the command: ${errorMessage(error)}`));
      return;
    }

    let failure: Error | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;

    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already empty.
      }
    };
    const stopWith = (error: Error) => {
      failure ??= error;
      killGroup();
    };
    const onAbort = () => stopWith(new Error('aborted'));
    const timeoutTimer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => stopWith(new Error(`timed out after ${formatMs(timeoutMs)}`)), timeoutMs);

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else if (!exit) reject(new Error('the command did not run'));
      else if (exit.code === 0) resolve();
      else if (exit.code !== null) reject(new Error(`command exited with code ${exit.code}`));
      else reject(new Error(`command was killed by signal ${exit.signal}`));
    };

    signal.addEventListener('abort', onAbort, { once: true });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => log(text));
    }
    child.on('error', (error) => {
      // Spawn failures (missing cwd…) come here and no 'exit' follows.
      failure ??= new Error(`cannot run the command: ${errorMessage(error)}`);
      if (child.pid === undefined) finish();
    });
    child.on('exit', (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      killGroup();
      // A process that left the group may still hold the pipes open; do not wait for it forever.
      graceTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, PIPE_CLOSE_GRACE_MS);
    });
    child.on('close', finish);
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

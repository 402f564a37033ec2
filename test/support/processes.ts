import { existsSync, readFileSync } from 'node:fs';
import { pollUntil } from './poll';

/**
 * Whether a process is still running. A zombie (exited, not yet reaped) counts as gone: on these
 * machines PID 1 does not always reap orphans, and a zombie runs nothing.
 */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    // EPERM: it exists but belongs to someone else.
    return true;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) S ..."; comm may contain blanks and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** Waits until every pid is gone; fails naming the survivors. */
export async function waitForProcessesGone(pids: number[], timeoutMs = 10_000): Promise<void> {
  await pollUntil(() => pids.every((pid) => !isProcessAlive(pid)), {
    timeoutMs,
    describe: () => `processes still alive after ${timeoutMs} ms: ${pids.filter(isProcessAlive).join(', ')}`,
  });
}

/** The pids written into a pidfile (blank-separated), or [] while it does not exist or is incomplete. */
export function readPidFile(path: string, expected = 1): number[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  // The writer ends its line with a newline: a file without one is still being written.
  if (!text.endsWith('\n')) return [];
  const pids = text
    .trim()
    .split(/\s+/)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 0);
  return pids.length >= expected ? pids : [];
}

/** Waits until a pidfile holds `expected` pids and answers them. */
export async function waitForPidFile(path: string, expected: number, timeoutMs = 20_000): Promise<number[]> {
  let pids: number[] = [];
  await pollUntil(
    () => {
      pids = readPidFile(path, expected);
      return pids.length >= expected;
    },
    { timeoutMs, describe: () => `pidfile ${path} did not get ${expected} pid(s) within ${timeoutMs} ms` },
  );
  return pids;
}

/** SIGSTOP: the process freezes (timers, sockets, child processes it waits for keep their state). */
export function freeze(pid: number): void {
  process.kill(pid, 'SIGSTOP');
}

/** SIGCONT: a frozen process runs on; nothing happens when it is gone. */
export function thaw(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch {
    // Gone: nothing to thaw.
  }
}

/**
 * Processes a test started indirectly (commands run by a master) that must not outlive the test
 * run; {@link killTrackedProcesses} ends the ones still alive, by pid.
 */
const tracked = new Set<number>();

export function trackProcesses(pids: number[]): void {
  for (const pid of pids) tracked.add(pid);
}

export function killTrackedProcesses(): void {
  for (const pid of tracked) {
    if (isProcessAlive(pid)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    tracked.delete(pid);
  }
}

process.once('exit', killTrackedProcesses);

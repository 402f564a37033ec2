import { BenchArgs } from './args';
import { Cleanup } from './cleanup';
import { BenchCluster } from './cluster';
import { cpuBetween, CpuUsage, rolesOf, sampleCpu } from './cpu';
import { Arrival, PushResult, pushTasks } from './driver';
import { TaskWire } from './rest';
import { DatabaseWatcher, Progress, readExecuted, RestWatcher, Watcher, WatchKind } from './watch';
import { Memory, memoryOfAll } from './memory';
import { distribution, Distribution, peakBacklog, peakConcurrency, taskFigures, TaskFigures } from './stats';
import { Workload } from './workload';

/** Everything one measured push (create, start, wait until EXECUTED) found out. */
export interface PhaseFacts {
  /** What the phase is called in the report: `burst`, `rate 40/s`, `2 workers`… */
  label: string;
  arrival: Arrival;
  workers: number;
  push: PushResult;
  /** Every task of the phase, read once all were EXECUTED. */
  tasks: TaskWire[];
  /** How the phase waited for its tasks and the reads that took (inside the CPU window). */
  watch: { kind: WatchKind; reads: number };
  figures: TaskFigures;
  /** Task submitted (its first timed request left the bench) → completedAt: what a client waits. */
  endToEnd: Distribution;
  peakBacklog: number;
  /** Most tasks between claim and completion at one instant. */
  peakConcurrency: number;
  /** CPU time by role from the first request to the last task read; null where /proc is missing. */
  cpu: CpuUsage | null;
  /** Memory of every process at the phase's end (VmHWM: the peak since it started). */
  memory: Record<string, Memory>;
}

export type Log = (line: string) => void;

/**
 * One measured push on a running cluster: sets up what `count` tasks of `workload` need, then
 * creates and starts them as `arrival` says, waits until every one is EXECUTED and computes the
 * figures, logging progress every second.
 */
export async function runPhase(
  cluster: BenchCluster,
  args: BenchArgs,
  workload: Workload,
  phase: { label: string; arrival: Arrival; count: number; workers: number },
  cleanup: Cleanup,
  log: Log,
): Promise<PhaseFacts> {
  const { masters } = cluster;
  await workload.setup(masters, phase.count, args.concurrency);
  const progress: Progress = { created: 0, started: 0, done: 0 };
  const pushState = { done: false, failed: false };
  const ids: string[] = new Array(phase.count);
  let push: PushResult | undefined;
  const watcher = await openWatcher(cluster, args);
  const pids = rolesOf(args.transport, cluster);
  const cpuBefore = sampleCpu(pids);
  const began = Date.now();
  const ticker = setInterval(() => {
    if (cleanup.interrupted) return;
    const seconds = ((Date.now() - began) / 1000).toFixed(0).padStart(4);
    log(`${phase.label}: ${seconds} s  created ${progress.created}/${phase.count}  started ${progress.started}/${phase.count}  done ${progress.done}/${phase.count}`);
  }, 1000);
  try {
    const pushing = pushTasks(masters, ids, phase.arrival, (base, start) => workload.create(base, start), progress).then(
      (result) => {
        push = result;
        pushState.done = true;
      },
      (error: unknown) => {
        pushState.failed = true;
        throw error;
      },
    );
    // Whichever fails first ends the run; a failed push gets here before the waiter notices it.
    await Promise.all([pushing, watcher.waitUntilExecuted(ids, began + args.timeoutMs, progress, () => pushState)]);
  } finally {
    clearInterval(ticker);
    await watcher.close();
  }
  const cpuAfter = sampleCpu(pids);
  const tasks = await readExecuted(masters, ids);
  if (!push) throw new Error('the push did not finish');
  log(`${phase.label}: ${((Date.now() - began) / 1000).toFixed(1)} s  all ${phase.count} tasks EXECUTED`);
  const index = new Map(ids.map((id, i) => [id, i]));
  const submitted = push.submittedAt;
  return {
    ...phase,
    push,
    tasks,
    watch: { kind: watcher.kind, reads: watcher.reads },
    figures: taskFigures(tasks, push.firstStartAt),
    endToEnd: distribution(tasks.map((t) => Date.parse(t.completedAt ?? '') - submitted[index.get(t.id) ?? -1])),
    peakBacklog: peakBacklog(tasks),
    peakConcurrency: peakConcurrency(tasks),
    cpu: cpuBefore && cpuAfter ? cpuBetween(cpuBefore, cpuAfter) : null,
    memory: memoryOfAll(cluster.processes()),
  };
}

/** The watcher `--watch` asks for; `database` needs the database of a cluster the bench launched. */
async function openWatcher(cluster: BenchCluster, args: BenchArgs): Promise<Watcher> {
  if (args.watch === 'rest') return new RestWatcher(cluster.masters);
  if (!cluster.database) throw new Error('--watch database needs a cluster the bench launched (not --attach): use --watch rest');
  return DatabaseWatcher.open(cluster.database);
}

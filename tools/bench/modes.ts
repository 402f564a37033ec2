import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { BenchArgs } from './args';
import { Cleanup } from './cleanup';
import { engineSec } from './cpu';
import { BenchCluster } from './cluster';
import { pushTasks } from './driver';
import { memoryOf } from './memory';
import { Log, PhaseFacts, runPhase } from './phase';
import { call, TaskWire } from './rest';
import { fmt, round, table, targetRow, TargetRow } from './report';
import { Workload } from './workload';

/** What a mode found besides its phases: report lines, JSON fields, target rows. */
export interface ModeResult {
  phases: PhaseFacts[];
  lines: string[];
  extra: Record<string, unknown>;
  targets: TargetRow[];
}

interface ModeInput {
  cluster: BenchCluster;
  args: BenchArgs;
  workload: Workload;
  cleanup: Cleanup;
  log: Log;
}

/** The step's sleep in ms (0 for steps that do not sleep). */
function sleepOf(args: BenchArgs): number {
  return args.step.kind === 'sleep' ? args.step.ms : 0;
}

function launchedOf(cluster: BenchCluster) {
  if (!cluster.launched) throw new Error('this mode starts its own cluster (not with --attach)');
  return cluster.launched;
}

/**
 * `--scale-out`: the same K tasks (created first, then started in a burst) on 1, then 2, then 4
 * workers of the running cluster, workers added between phases. Efficiency at n workers is its
 * throughput over n times the throughput of one.
 */
export async function scaleOut({ cluster, args, workload, cleanup, log }: ModeInput): Promise<ModeResult> {
  const launched = launchedOf(cluster);
  const phases: PhaseFacts[] = [];
  for (const workers of [1, 2, 4]) {
    while (launched.workers.filter((w) => w.status === undefined).length < workers) await launched.addWorker();
    log(`scale-out: ${workers} worker(s)`);
    phases.push(
      await runPhase(cluster, args, workload, { label: `${workers} worker(s)`, arrival: { kind: 'precreated', concurrency: args.concurrency }, count: args.tasks, workers }, cleanup, log),
    );
  }
  const one = phases[0].figures.tasksPerSec;
  const efficiency = phases.map((p) => p.figures.tasksPerSec / (p.workers * one));
  const ceiling = (workers: number) => (sleepOf(args) > 0 ? (workers * args.capacity * 1000) / sleepOf(args) : Number.NaN);
  const lines = table(
    ['workers', 'tasks/s', 'linear', 'efficiency', 'I/O ceiling', 'CPU ms/task'],
    phases.map((p, i) => [
      String(p.workers),
      fmt(p.figures.tasksPerSec),
      fmt(p.workers * one),
      `${fmt(efficiency[i] * 100, 0)} %`,
      fmt(ceiling(p.workers)),
      p.cpu ? fmt((engineSec(p.cpu.bySec) * 1000) / p.figures.tasks) : '-',
    ]),
  );
  lines.push(`(I/O ceiling: workers × capacity ${args.capacity} / step of ${sleepOf(args)} ms; linear: workers × the 1-worker rate)`);
  const targets: TargetRow[] = [];
  targetRow(targets)('scale-out efficiency at 4 workers', efficiency[2] * 100, ' %', '≥', 90);
  return {
    phases,
    lines,
    targets,
    extra: {
      scaleOut: { workers: phases.map((p) => p.workers), tasksPerSec: phases.map((p) => round(p.figures.tasksPerSec, 1)), efficiency: efficiency.map((e) => round(e, 3)) },
    },
  };
}

/**
 * `--capacity-test`: one worker of capacity C runs K sleeping steps at once (created first, then
 * started in a burst). On time means every step's claim → EXECUTED stays within its sleep plus
 * one second.
 */
export async function capacityTest({ cluster, args, workload, cleanup, log }: ModeInput): Promise<ModeResult> {
  // Created first: only the starts must fit into the step's sleep for every step to run at once.
  const arrival = { kind: 'precreated', concurrency: args.concurrency } as const;
  const phase = await runPhase(cluster, args, workload, { label: 'capacity', arrival, count: args.tasks, workers: 1 }, cleanup, log);
  const sleepMs = sleepOf(args);
  const { figures, push } = phase;
  const worker = Object.entries(phase.memory).find(([name]) => name.startsWith('worker'))?.[1];
  const overrun = figures.claimToDone.max - sleepMs;
  const lines = table(
    ['figure', 'value'],
    [
      ['steps', `${figures.tasks} × ${fmt(sleepMs)} ms sleep, worker capacity ${args.capacity}`],
      ['push (all started)', `${fmt(push.lastStartedAt - push.firstStartAt)} ms`],
      ['wall time', `${fmt(figures.elapsedMs)} ms (first start request → last completedAt)`],
      ['peak concurrency', `${phase.peakConcurrency} steps running at once`],
      ['claimed → EXECUTED', `p50 ${fmt(figures.claimToDone.p50)}, p99 ${fmt(figures.claimToDone.p99)}, max ${fmt(figures.claimToDone.max)} ms`],
      ['worst overrun', `${fmt(overrun)} ms beyond the step's sleep`],
      ['worker RSS', worker ? `${fmt(worker.rssMb)} MB now, peak ${fmt(worker.peakMb)} MB` : '-'],
    ],
  );
  const targets: TargetRow[] = [];
  const row = targetRow(targets);
  row(`concurrent steps (capacity ${args.capacity})`, phase.peakConcurrency, '', '≥', Math.min(args.capacity, figures.tasks));
  row('worst overrun beyond the sleep', overrun, ' ms', '≤', 1000);
  row('worker peak RSS', worker?.peakMb ?? null, ' MB', '≤', 300);
  return {
    phases: [phase],
    lines,
    targets,
    extra: {
      capacityTest: {
        sleepMs,
        wallMs: figures.elapsedMs,
        pushMs: push.lastStartedAt - push.firstStartAt,
        peakConcurrency: phase.peakConcurrency,
        maxOverrunMs: overrun,
        workerPeakRssMb: worker?.peakMb ?? null,
      },
    },
  };
}

/** The worker's log line once it has recovered what its recovery files held (libs/worker-runtime task-recovery.ts). */
const RECOVERED_LINE = 'recovery after restart';

/**
 * `--recovery-test`: K hour-long sleeps are started on one worker; once all are EXECUTING (each
 * with its recovery file) the worker is SIGKILLed and started again on the same work directory.
 * Measured from the restart's spawn: when its log says it recovered them, and when the last of
 * them left EXECUTING in the database (completedAt).
 */
export async function recoveryTest({ cluster, args, workload, log }: ModeInput): Promise<ModeResult> {
  const launched = launchedOf(cluster);
  const [worker] = launched.workers;
  const masters = cluster.masters;
  await workload.setup(masters, args.tasks, args.concurrency);
  const ids: string[] = new Array(args.tasks);
  await pushTasks(masters, ids, { kind: 'burst', concurrency: args.concurrency }, (base, start) => workload.create(base, start), { created: 0, started: 0, done: 0 });
  const deadline = Date.now() + args.timeoutMs;
  await until(deadline, 'every task EXECUTING on the worker', async () => {
    const views = await Promise.all(ids.map((id) => call<TaskWire>(masters[0], 'GET', `/tasks/${id}`)));
    return views.every((v) => v.state === 'EXECUTING');
  });
  const files = readdirTasks(worker.workDir);
  log(`recovery: ${args.tasks} tasks EXECUTING, ${files} recovery files in ${worker.workDir}; SIGKILL to ${worker.name}`);
  await worker.kill('SIGKILL');

  const logFile = join(launched.logDir, `${worker.name}.log`);
  const logOffset = readFileSync(logFile).length;
  const spawnedAt = Date.now();
  let loggedAt: number | null = null;
  const restarting = launched.restartWorker(worker);
  // The restart resolves once the worker consumes; its recovery line may come before that.
  while (loggedAt === null && Date.now() < deadline) {
    if (readFileSync(logFile).subarray(logOffset).includes(RECOVERED_LINE)) loggedAt = Date.now();
    else await Promise.race([delay(10), restarting.then(() => delay(10))]);
  }
  const restarted = await restarting;
  const readyAt = Date.now();
  let views: TaskWire[] = [];
  await until(deadline, 'every task out of EXECUTING', async () => {
    views = await Promise.all(ids.map((id) => call<TaskWire>(masters[0], 'GET', `/tasks/${id}`)));
    return views.every((v) => v.state !== 'EXECUTING' && v.completedAt !== null);
  });
  const storedAt = Math.max(...views.map((v) => Date.parse(v.completedAt ?? '')));
  const states = [...new Set(views.map((v) => v.state))].join(', ');
  const logMs = loggedAt === null ? null : loggedAt - spawnedAt;
  const idle = memoryOf(restarted.pid);
  const lines = table(
    ['figure', 'value'],
    [
      ['recovery files', `${files} (${args.tasks} tasks EXECUTING when the worker was SIGKILLed)`],
      ['log line', logMs === null ? 'never seen' : `"${RECOVERED_LINE}" ${fmt(logMs)} ms after the spawn`],
      ['database', `last task left EXECUTING ${fmt(storedAt - spawnedAt)} ms after the spawn (now ${states})`],
      ['consuming', `${fmt(readyAt - spawnedAt)} ms after the spawn`],
      ['worker RSS', idle ? `${fmt(idle.rssMb)} MB` : '-'],
    ],
  );
  const targets: TargetRow[] = [];
  targetRow(targets)(`${files} recovery files recovered (database)`, storedAt - spawnedAt, ' ms', '≤', 2000);
  return {
    phases: [],
    lines,
    targets,
    extra: { recoveryTest: { recoveryFiles: files, logMs, storedMs: storedAt - spawnedAt, readyMs: readyAt - spawnedAt, states } },
  };
}

function readdirTasks(dir: string): number {
  return readdirSync(dir).filter((name) => name.endsWith('.task')).length;
}

/** Polls `check` every 100 ms until it holds; fails at the deadline naming `what`. */
async function until(deadline: number, what: string, check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`recovery test: not ${what} before the deadline`);
    await delay(100);
  }
}

import { BenchArgs } from './args';
import { BaselineResult } from './baseline';
import { CpuUsage } from './cpu';
import { PushResult, WaitResult } from './driver';
import { Distribution, distribution, TaskFigures } from './stats';

/** The last line of stdout: one JSON object (the issue's contract plus a few fields). */
export interface BenchSummary {
  /** The task queue's broker and protocol (`--transport`). */
  transport: string;
  masters: number;
  workers: number;
  tasks: number;
  capacity: number;
  tasksPerSec: number;
  /** QUEUED → claimed. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** QUEUED → EXECUTED, p99. */
  startToDoneP99Ms: number;
  brokerMsgsPerSec: number | null;
  ratioToBroker: number | null;
  /** Tasks executed per worker (its name, or its id when the cluster has no names). */
  perWorker: Record<string, number>;
}

export interface RunFacts {
  args: BenchArgs;
  workers: number;
  baseline: BaselineResult | null;
  push: PushResult;
  wait: WaitResult;
  figures: TaskFigures;
  peakBacklog: number;
  /** Worker id → display name, when the cluster knows them. */
  workerNames: Record<string, string>;
  /** Task messages the reconciler published again (duplicates the claim drops); null when unknown. */
  republished: number | null;
  /** CPU time by role from the first request to the last task read; null where /proc is missing. */
  cpu: CpuUsage | null;
}

export function summarize(facts: RunFacts): BenchSummary {
  const { args, baseline, figures } = facts;
  const broker = baseline ? round(baseline.msgsPerSec, 0) : null;
  return {
    transport: args.transport,
    masters: args.masters,
    workers: facts.workers,
    tasks: figures.tasks,
    capacity: args.capacity,
    tasksPerSec: round(figures.tasksPerSec, 1),
    p50Ms: figures.queueToClaim.p50,
    p95Ms: figures.queueToClaim.p95,
    p99Ms: figures.queueToClaim.p99,
    startToDoneP99Ms: figures.queueToDone.p99,
    brokerMsgsPerSec: broker,
    ratioToBroker: baseline ? round(figures.tasksPerSec / baseline.msgsPerSec, 4) : null,
    perWorker: Object.fromEntries(
      Object.entries(figures.perWorker)
        .map(([id, count]) => [facts.workerNames[id] ?? id, count] as const)
        .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })),
    ),
  };
}

/** The human-readable figures, one fact per line. */
export function humanReport(facts: RunFacts, summary: BenchSummary): string[] {
  const { args, baseline, push, wait, figures } = facts;
  const pushMs = push.lastStartedAt - push.firstStartAt;
  const lines = [
    `Shipdeck benchmark: ${args.masters} master(s), ${facts.workers} worker(s) of capacity ${args.capacity}, ` +
      `${figures.tasks} checkConnection control tasks, ${args.concurrency} REST requests in flight`,
    '',
  ];
  lines.push(
    baseline
      ? `broker baseline     ${fmt(baseline.msgsPerSec)} msg/s  (${args.transport}: ${baseline.broker}, ${baseline.method}, ` +
          `${baseline.messages} durable msgs: ${fmt(baseline.elapsedMs)} ms)`
      : 'broker baseline     skipped (--skip-baseline)',
  );
  lines.push(
    `push                ${figures.tasks} created + started in ${fmt(pushMs)} ms (${fmt((figures.tasks * 1000) / Math.max(1, pushMs))} tasks/s)`,
    `  create request    ${dist(distribution(push.createMs))}`,
    `  start request     ${dist(distribution(push.startMs))}`,
    `end to end          ${fmt(summary.tasksPerSec)} tasks/s  (${figures.tasks} tasks, first start request → last completedAt: ${fmt(figures.elapsedMs)} ms)` +
      (summary.ratioToBroker === null ? '' : `; ${fmt(summary.ratioToBroker * 100, 2)} % of the broker baseline`),
    `QUEUED → claimed    ${dist(figures.queueToClaim)}`,
    `claimed → EXECUTED  ${dist(figures.claimToDone)}`,
    `QUEUED → EXECUTED   ${dist(figures.queueToDone)}`,
    `peak backlog        ${facts.peakBacklog} tasks QUEUED and not yet claimed at once ` +
      `(the workers hold at most ${facts.workers * args.capacity})`,
    `per worker          ${Object.entries(summary.perWorker)
      .map(([name, count]) => `${name}: ${count}`)
      .join(', ')}`,
  );
  if (facts.republished !== null) {
    lines.push(
      `republished         ${facts.republished} task messages published again by the reconciler ` +
        `(tasks QUEUED without a claim for longer than task.reconcileAfter, ${args.reconcileAfter}; each extra copy costs a failed claim)`,
    );
  }
  if (figures.retried > 0) lines.push(`retried             ${figures.retried} task(s) needed more than one attempt`);
  lines.push(`watching            ${wait.reads} REST reads (one per task, then one list)`);
  if (facts.cpu) {
    const { cpu } = facts;
    const capacity = cpu.elapsedSec * cpu.cores;
    const share = (sec: number) => `${fmt(sec)} s (${fmt((sec / capacity) * 100, 0)} %)`;
    const roles = Object.entries(cpu.bySec)
      .filter(([, sec]) => sec > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([role, sec]) => `${role} ${share(sec)}`);
    lines.push(
      `CPU time            ${fmt(cpu.machineBusySec)} of ${fmt(capacity)} CPU-s busy (${cpu.cores} cores × ${fmt(cpu.elapsedSec)} s): ${roles.join(', ')}`,
    );
    if (cpu.bySec.masters > 0) {
      const perTask = (sec: number) => (sec * 1000) / figures.tasks;
      const { masters, workers, postgres, rabbitmq } = cpu.bySec;
      const shipdeckMs = perTask(masters + workers + postgres + rabbitmq);
      lines.push(
        `  per task          ${fmt(shipdeckMs)} ms of CPU: masters ${fmt(perTask(masters))}, workers ${fmt(perTask(workers))}, ` +
          `postgres ${fmt(perTask(postgres))}, rabbitmq ${fmt(perTask(rabbitmq))} ms ` +
          `(→ at most ${fmt((cpu.cores * 1000) / shipdeckMs)} tasks/s on ${cpu.cores} cores with nothing else running)`,
      );
    }
  }
  return lines;
}

function dist(d: Distribution): string {
  return `p50 ${fmt(d.p50)}  p95 ${fmt(d.p95)}  p99 ${fmt(d.p99)}  max ${fmt(d.max)}  mean ${fmt(d.mean)} ms`;
}

function fmt(value: number, digits = value < 10 ? 1 : 0): string {
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

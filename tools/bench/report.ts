import { BenchArgs, stepName } from './args';
import { BaselineResult } from './baseline';
import { engineSec, ENGINE_ROLES, EngineRole, Role } from './cpu';
import { largest, Memory } from './memory';
import { PhaseFacts } from './phase';
import { Distribution, distribution } from './stats';

/** The figures of one measured push, in the JSON line (the issue's contract plus a few fields). */
export interface PhaseSummary {
  label: string;
  workers: number;
  tasks: number;
  /** Open-loop arrival rate in tasks/s; null for a burst. */
  ratePerSec: number | null;
  tasksPerSec: number;
  /** QUEUED → claimed. */
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  /** QUEUED → EXECUTED, p99. */
  startToDoneP99Ms: number;
  /** Submitted (first request sent) → EXECUTED. */
  endToEndP50Ms: number;
  endToEndP99Ms: number;
  peakConcurrency: number;
  ratioToBroker: number | null;
  /** CPU ms per task of masters + workers + PostgreSQL + the broker (RabbitMQ or Artemis); null without /proc. */
  cpuMsPerTask: number | null;
  cpuMsPerTaskBy: Record<EngineRole, number> | null;
  /** Of `cpuMsPerTaskBy`, the milliseconds spent in the kernel (system calls). */
  kernelMsPerTaskBy: Record<EngineRole, number> | null;
  /** Tasks executed per worker (its name, or its id when the cluster has no names). */
  perWorker: Record<string, number>;
}

/** The whole run's JSON line: the first (or only) phase's figures at the top level, every phase in `phases`. */
export interface BenchSummary extends PhaseSummary {
  mode: string;
  transport: string;
  step: string;
  /** How the bench waited for its tasks while CPU was counted (`--watch`). */
  watch: string;
  masters: number;
  capacity: number;
  /** Tasks run before the measured phases, their figures dropped. */
  warmup: number;
  brokerMsgsPerSec: number | null;
  /** The broker's CPU per message in the baseline (as fast as it goes); null when not measured. */
  brokerBaselineCpuMsPerMessage: number | null;
  /** RSS of each process once the cluster was up, before the first task (MB). */
  idleRssMb: Record<string, number>;
  /** VmHWM of each process at the end: its peak RSS (MB). */
  peakRssMb: Record<string, number>;
  phases: PhaseSummary[];
  /** Figures of the mode itself (scale-out efficiency, capacity, recovery). */
  [extra: string]: unknown;
}

export function summarizePhase(phase: PhaseFacts, baseline: BaselineResult | null, workerNames: Record<string, string>): PhaseSummary {
  const { figures, cpu } = phase;
  const perTask = (sec: number) => round((sec * 1000) / figures.tasks, 2);
  const perRole = (bySec: Record<Role, number>) => Object.fromEntries(ENGINE_ROLES.map((role) => [role, perTask(bySec[role])])) as Record<EngineRole, number>;
  const by = cpu && cpu.bySec.masters > 0 ? cpu.bySec : null;
  return {
    label: phase.label,
    workers: phase.workers,
    tasks: figures.tasks,
    ratePerSec: phase.arrival.kind === 'rate' ? round(phase.arrival.perSec, 1) : null,
    tasksPerSec: round(figures.tasksPerSec, 1),
    p50Ms: figures.queueToClaim.p50,
    p95Ms: figures.queueToClaim.p95,
    p99Ms: figures.queueToClaim.p99,
    startToDoneP99Ms: figures.queueToDone.p99,
    endToEndP50Ms: phase.endToEnd.p50,
    endToEndP99Ms: phase.endToEnd.p99,
    peakConcurrency: phase.peakConcurrency,
    ratioToBroker: baseline ? round(figures.tasksPerSec / baseline.msgsPerSec, 4) : null,
    cpuMsPerTask: by ? perTask(engineSec(by)) : null,
    cpuMsPerTaskBy: by ? perRole(by) : null,
    kernelMsPerTaskBy: by && cpu ? perRole(cpu.kernelBySec) : null,
    perWorker: Object.fromEntries(
      Object.entries(figures.perWorker)
        .map(([id, count]) => [workerNames[id] ?? id, count] as const)
        .sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true })),
    ),
  };
}

/** The run's JSON line from its phases (at least one) and the mode's own figures. */
export function summarize(
  args: BenchArgs,
  baseline: BaselineResult | null,
  phases: PhaseSummary[],
  memory: { idle: Record<string, Memory>; end: Record<string, Memory> },
  extra: Record<string, unknown> = {},
): BenchSummary {
  return {
    mode: args.mode,
    transport: args.transport,
    step: stepName(args.step),
    watch: args.watch,
    masters: args.masters,
    capacity: args.capacity,
    warmup: args.mode === 'burst' || args.mode === 'scale-out' ? args.warmup : 0,
    brokerMsgsPerSec: baseline ? round(baseline.msgsPerSec, 0) : null,
    brokerBaselineCpuMsPerMessage: baseline?.brokerCpuMsPerMessage == null ? null : round(baseline.brokerCpuMsPerMessage, 3),
    ...phases[0],
    idleRssMb: Object.fromEntries(Object.entries(memory.idle).map(([name, m]) => [name, m.rssMb])),
    peakRssMb: Object.fromEntries(Object.entries(memory.end).map(([name, m]) => [name, m.peakMb])),
    phases,
    ...extra,
  };
}

/** The human-readable figures of one phase, one fact per line. */
export function phaseLines(phase: PhaseFacts, summary: PhaseSummary): string[] {
  const { push, watch, figures, cpu } = phase;
  const pushMs = push.lastStartedAt - push.firstStartAt;
  const lines = [`-- ${phase.label} (${figures.tasks} tasks, ${phase.workers} worker(s))`];
  const arrival =
    phase.arrival.kind === 'rate'
      ? `open loop at ${fmt(phase.arrival.perSec)} tasks/s (the bench ran at most ${fmt(push.maxLagMs)} ms behind its schedule)`
      : phase.arrival.kind === 'precreated'
        ? `created first, then started with ${phase.arrival.concurrency} requests in flight`
        : `burst, ${phase.arrival.concurrency} REST requests in flight`;
  lines.push(
    `push                ${figures.tasks} started in ${fmt(pushMs)} ms (${fmt((figures.tasks * 1000) / Math.max(1, pushMs))} tasks/s): ${arrival}`,
  );
  if (push.createMs.length > 0) lines.push(`  create+start req. ${dist(distribution(push.createMs))}`);
  if (push.startMs.length > 0) lines.push(`  start request     ${dist(distribution(push.startMs))}`);
  lines.push(
    `end to end          ${fmt(summary.tasksPerSec)} tasks/s  (${figures.tasks} tasks, first start request → last completedAt: ${fmt(figures.elapsedMs)} ms)` +
      (summary.ratioToBroker === null ? '' : `; ${fmt(summary.ratioToBroker * 100, 2)} % of the broker baseline`),
    `QUEUED → claimed    ${dist(figures.queueToClaim)}`,
    `claimed → EXECUTED  ${dist(figures.claimToDone)}`,
    `QUEUED → EXECUTED   ${dist(figures.queueToDone)}`,
    `submitted → EXEC.   ${dist(phase.endToEnd)}  (first request sent → completedAt)`,
    `peak backlog        ${phase.peakBacklog} tasks QUEUED and not yet claimed at once; peak concurrency ${phase.peakConcurrency} tasks claimed and running`,
    `per worker          ${Object.entries(summary.perWorker)
      .map(([name, count]) => `${name}: ${count}`)
      .join(', ')}`,
  );
  if (figures.retried > 0) lines.push(`retried             ${figures.retried} task(s) needed more than one attempt`);
  lines.push(
    watch.kind === 'rest'
      ? `watching            ${watch.reads} REST reads (one GET /tasks/{id} per task; the final list read is not counted)`
      : `watching            ${watch.reads} database queries (one every 100 ms; the final REST list read is not counted)`,
  );
  if (cpu) {
    const capacity = cpu.elapsedSec * cpu.cores;
    const share = (sec: number) => `${fmt(sec)} s (${fmt((sec / capacity) * 100, 0)} %)`;
    const roles = Object.entries(cpu.bySec)
      .filter(([, sec]) => sec > 0)
      .sort(([, a], [, b]) => b - a)
      .map(([role, sec]) => `${role} ${share(sec)}`);
    lines.push(`CPU time            ${fmt(cpu.machineBusySec)} of ${fmt(capacity)} CPU-s busy (${cpu.cores} cores × ${fmt(cpu.elapsedSec)} s): ${roles.join(', ')}`);
    const by = summary.cpuMsPerTaskBy;
    if (summary.cpuMsPerTask !== null && by) {
      lines.push(
        `  per task          ${fmt(summary.cpuMsPerTask)} ms of CPU: masters ${fmt(by.masters)}, workers ${fmt(by.workers)}, ` +
          `postgres ${fmt(by.postgres)}, broker ${fmt(by.broker)} ms ` +
          `(→ at most ${fmt((cpu.cores * 1000) / summary.cpuMsPerTask)} tasks/s on ${cpu.cores} cores with nothing else running)`,
      );
      const kernel = ENGINE_ROLES.filter((role) => cpu.bySec[role] > 0)
        .map((role) => `${role} ${fmt((cpu.kernelBySec[role] / cpu.bySec[role]) * 100, 0)} %`);
      lines.push(`  in the kernel     ${kernel.join(', ')} of each one's CPU (system calls: sockets, files, fsync)`);
    }
  }
  lines.push(`memory              ${memoryText(phase.memory)}`);
  return lines;
}

/** `master-1 112 MB (peak 130)`, … */
export function memoryText(memory: Record<string, Memory>): string {
  const entries = Object.entries(memory);
  if (entries.length === 0) return 'unknown (no /proc, or --attach)';
  return entries.map(([name, m]) => `${name} ${fmt(m.rssMb)} MB (peak ${fmt(m.peakMb)})`).join(', ');
}

/** The broker baseline's line. */
export function baselineLine(args: BenchArgs, baseline: BaselineResult | null): string {
  return baseline
    ? `broker baseline     ${fmt(baseline.msgsPerSec)} msg/s  (${args.transport}: ${baseline.broker}, ${baseline.method}, ` +
        `${baseline.messages} durable msgs: ${fmt(baseline.elapsedMs)} ms` +
        (baseline.brokerCpuMsPerMessage === null ? ')' : `; broker CPU ${fmt(baseline.brokerCpuMsPerMessage, 2)} ms per message)`)
    : `broker baseline     not measured (${args.mode === 'burst' ? '--skip-baseline' : `--${args.mode} has no use for it`})`;
}

/** A measured figure against the issue's target, a row of the final table. */
export interface TargetRow {
  figure: string;
  measured: string;
  target: string;
  /** null when the figure was not measured in this run. */
  met: boolean | null;
}

/** A function adding a row that compares `value` with `op limit` to `rows`; a missing value is not judged. */
export function targetRow(rows: TargetRow[]) {
  return (figure: string, value: number | null, unit: string, op: '≤' | '≥', limit: number, digits?: number): void => {
    const target = `${op} ${fmt(limit, digits)}${unit}`;
    if (value === null || Number.isNaN(value)) rows.push({ figure, measured: '-', target, met: null });
    else rows.push({ figure, measured: `${fmt(value, digits)}${unit}`, target, met: op === '≤' ? value <= limit : value >= limit });
  };
}

/** The rows of the issue's targets that a burst or rate run measures. */
export function coreTargets(summary: BenchSummary, idle: Record<string, Memory>): TargetRow[] {
  const rows: TargetRow[] = [];
  const row = targetRow(rows);
  const burst = summary.phases.find((p) => p.ratePerSec === null);
  const rate = summary.phases.find((p) => p.ratePerSec !== null);
  if (burst) {
    row(`CPU per task (${burst.label})`, burst.cpuMsPerTask, ' ms', '≤', 8);
    row(`end-to-end throughput (${burst.label}, ${burst.workers} workers)`, burst.tasksPerSec, ' tasks/s', '≥', 250);
    row('ratio to the broker baseline', burst.ratioToBroker, '', '≥', 0.08, 3);
  }
  if (rate) {
    row(`QUEUED → claimed p50 (${rate.label})`, rate.p50Ms, ' ms', '≤', 5);
    row(`QUEUED → claimed p99 (${rate.label})`, rate.p99Ms, ' ms', '≤', 25);
  }
  row('idle RSS, largest master', largest(idle, 'master', 'rssMb'), ' MB', '≤', 150);
  row('idle RSS, largest worker', largest(idle, 'worker', 'rssMb'), ' MB', '≤', 120);
  return rows;
}

/** Rows as an aligned text table with a header. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

export function targetTable(rows: TargetRow[]): string[] {
  return table(
    ['figure', 'measured', 'target', 'met'],
    rows.map((r) => [r.figure, r.measured, r.target, r.met === null ? '-' : r.met ? 'yes' : 'no']),
  );
}

function dist(d: Distribution): string {
  return `p50 ${fmt(d.p50)}  p95 ${fmt(d.p95)}  p99 ${fmt(d.p99)}  max ${fmt(d.max)}  mean ${fmt(d.mean)} ms`;
}

export function fmt(value: number, digits = Math.abs(value) < 10 ? 1 : 0): string {
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

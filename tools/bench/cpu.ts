import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { BenchTransport } from './args';

/**
 * CPU time by role over a stretch of the run, from /proc (Linux only; elsewhere nothing is
 * reported): where the time goes on a small machine, and how much of it other people's
 * processes took (a busy machine makes every figure lower).
 */
export type Role = 'masters' | 'workers' | 'postgres' | 'broker' | 'bench' | 'other';

export interface CpuSample {
  at: number;
  /** Busy and total jiffies of the whole machine (/proc/stat). */
  busy: number;
  total: number;
  /** Jiffies per pid, with its role; `kernel` is the part spent in the kernel (stime). */
  pids: Map<number, { role: Role; ticks: number; kernel: number }>;
}

export interface CpuUsage {
  elapsedSec: number;
  cores: number;
  /** CPU seconds the machine was busy. */
  machineBusySec: number;
  /** CPU seconds per role; `other` is the rest of the machine's busy time (processes that came and went, the kernel, other users). */
  bySec: Record<Role, number>;
  /** Of `bySec`, the seconds spent in the kernel on the processes' behalf (system calls: sockets, files, fsync); `other` stays 0. */
  kernelBySec: Record<Role, number>;
}

const TICKS_PER_SEC = 100;

/** Who is who: pids of the cluster's processes (they may change while the cluster runs). */
export interface RoleOf {
  masters: () => number[];
  workers: () => number[];
  /** The task queue's broker is ActiveMQ Artemis (a `java` process) rather than RabbitMQ (`beam`…). */
  artemis?: boolean;
}

/** Who is who in a run on `transport`: the pids of a cluster's masters and workers (none before it starts). */
export function rolesOf(transport: BenchTransport, cluster?: { masterPids(): number[]; workerPids(): number[] }): RoleOf {
  return {
    masters: () => cluster?.masterPids() ?? [],
    workers: () => cluster?.workerPids() ?? [],
    artemis: transport !== 'rabbitmq-amqp',
  };
}

/** The components a task needs: masters, workers, PostgreSQL and the broker. */
export const ENGINE_ROLES = ['masters', 'workers', 'postgres', 'broker'] as const;
export type EngineRole = (typeof ENGINE_ROLES)[number];

/** CPU seconds of everything a task needs. */
export function engineSec(bySec: Record<Role, number>): number {
  return ENGINE_ROLES.reduce((sum, role) => sum + bySec[role], 0);
}

export function sampleCpu(roles: RoleOf): CpuSample | null {
  let stat: string;
  try {
    stat = readFileSync('/proc/stat', 'utf8');
  } catch {
    return null;
  }
  const fields = stat.split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const masters = new Set(roles.masters());
  const workers = new Set(roles.workers());
  const pids = new Map<number, { role: Role; ticks: number; kernel: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    // Fields after "pid (comm)": state is [0], utime [11], stime [12], cutime [13], cstime [14].
    const rest = text.slice(close + 2).split(' ');
    const own = Number(rest[11]) + Number(rest[12]);
    const children = Number(rest[13]) + Number(rest[14]);
    let role: Role = 'other';
    if (masters.has(pid)) role = 'masters';
    else if (workers.has(pid)) role = 'workers';
    else if (pid === process.pid) role = 'bench';
    else if (comm === 'postgres') role = 'postgres';
    else if (roles.artemis ? comm === 'java' : comm.startsWith('beam') || comm === 'erl_child_setup' || comm === 'epmd') role = 'broker';
    // A worker's step commands are its children: their time counts as the worker's once reaped.
    const withChildren = role === 'workers';
    const kernel = Number(rest[12]) + (withChildren ? Number(rest[14]) : 0);
    pids.set(pid, { role, ticks: withChildren ? own + children : own, kernel });
  }
  return { at: Date.now(), busy: total - idle, total, pids };
}

export function cpuBetween(before: CpuSample, after: CpuSample): CpuUsage {
  const bySec: Record<Role, number> = { masters: 0, workers: 0, postgres: 0, broker: 0, bench: 0, other: 0 };
  const kernelBySec: Record<Role, number> = { ...bySec };
  for (const [pid, now] of after.pids) {
    const then = before.pids.get(pid);
    if (now.role === 'other') continue;
    bySec[now.role] += (now.ticks - (then?.ticks ?? 0)) / TICKS_PER_SEC;
    kernelBySec[now.role] += (now.kernel - (then?.kernel ?? 0)) / TICKS_PER_SEC;
  }
  const machineBusySec = (after.busy - before.busy) / TICKS_PER_SEC;
  const attributed = Object.values(bySec).reduce((a, b) => a + b, 0);
  bySec.other = Math.max(0, machineBusySec - attributed);
  return { elapsedSec: (after.at - before.at) / 1000, cores: cpus().length, machineBusySec, bySec, kernelBySec };
}

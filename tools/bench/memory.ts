import { readFileSync } from 'node:fs';

/** Resident memory of one process, from /proc/PID/status, in MB (2^20 bytes). */
export interface Memory {
  /** VmRSS: resident now. */
  rssMb: number;
  /** VmHWM: the peak resident size since the process started. */
  peakMb: number;
}

/** The memory of `pid`; null when /proc is missing (not Linux) or the process is gone. */
export function memoryOf(pid: number): Memory | null {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  const mb = (value: number) => Math.round((value / 1024) * 10) / 10;
  const rss = kb('VmRSS');
  const peak = kb('VmHWM');
  return Number.isNaN(rss) || Number.isNaN(peak) ? null : { rssMb: mb(rss), peakMb: mb(peak) };
}

/** Memory of named processes (`master-1`, `worker-2`…); processes without figures are left out. */
export function memoryOfAll(processes: Record<string, number>): Record<string, Memory> {
  const out: Record<string, Memory> = {};
  for (const [name, pid] of Object.entries(processes)) {
    const memory = memoryOf(pid);
    if (memory) out[name] = memory;
  }
  return out;
}

/** The largest of one figure over the processes whose name starts with `prefix`; null when none. */
export function largest(memory: Record<string, Memory>, prefix: string, figure: keyof Memory): number | null {
  const values = Object.entries(memory)
    .filter(([name]) => name.startsWith(prefix))
    .map(([, m]) => m[figure]);
  return values.length === 0 ? null : Math.max(...values);
}

/*
 * The compose test's view of the `monitoring` profile (test/compose/scenario.ts): Prometheus's HTTP
 * API on its published port, and the scrape configuration it runs with.
 */
import { check, waitFor } from './session';

/** A target as `/api/v1/targets` lists it. */
interface Target {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: string;
  lastError: string;
}

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/**
 * docker/prometheus/prometheus.yml as shipped, with every interval (scrape, evaluation, DNS
 * refresh) set to `interval` so that the test does not wait for 15 s rounds; jobs, names, ports
 * and paths stay the shipped ones.
 */
export function withIntervals(shipped: string, interval: string): string {
  let replaced = 0;
  const text = shipped.replace(/^(\s*(?:scrape_interval|evaluation_interval|refresh_interval):\s*)\S+/gm, (_, key: string) => {
    replaced++;
    return `${key}${interval}`;
  });
  // The shipped file sets the global scrape and evaluation intervals and one refresh per job.
  check(replaced >= 4, `docker/prometheus/prometheus.yml sets its intervals where the test expects them (${replaced} replaced)`);
  // A scrape may not take longer than its interval.
  return text.replace(/^(\s*scrape_timeout:\s*)\S+/m, `$1${interval}`);
}

export class Prometheus {
  constructor(readonly baseUrl: string) {}

  private async api<T>(path: string): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, { signal: AbortSignal.timeout(10_000) });
    const body = (await response.json()) as { status: string; data: T; error?: string };
    if (response.status !== 200 || body.status !== 'success') throw new Error(`Prometheus ${path}: ${response.status} ${body.error ?? ''}`);
    return body.data;
  }

  /** Waits for `/-/ready` (the TSDB is open on its volume, the configuration loaded). */
  async ready(timeoutMs: number): Promise<void> {
    await waitFor(`Prometheus ready at ${this.baseUrl}`, timeoutMs, async () => {
      const response = await fetch(`${this.baseUrl}/-/ready`, { signal: AbortSignal.timeout(5_000) });
      return response.status === 200 ? true : undefined;
    });
  }

  /**
   * Waits until the active targets of each job are exactly `expected[job]` (`host:port`), every one
   * of them up: found through the compose DNS and scraped with success.
   */
  async expectTargets(expected: Record<string, string[]>, timeoutMs: number): Promise<void> {
    let seen = '';
    await waitFor('every master and worker target up in Prometheus', timeoutMs, async () => {
      const { activeTargets } = await this.api<{ activeTargets: Target[] }>('/api/v1/targets?state=active');
      seen = activeTargets.map((t) => `${t.labels.job} ${t.labels.instance} ${t.health}${t.lastError ? ` (${t.lastError})` : ''}`).join('; ');
      for (const [job, instances] of Object.entries(expected)) {
        const ofJob = activeTargets.filter((t) => t.labels.job === job);
        const up = ofJob.filter((t) => t.health === 'up').map((t) => t.labels.instance);
        if (ofJob.length !== instances.length || up.sort().join() !== [...instances].sort().join()) return undefined;
      }
      return true;
    }, () => `targets: ${seen || 'none'}`);
  }

  /** The instant vector of `expr`, each sample keyed by the value of label `by`. */
  async values(expr: string, by: string): Promise<Map<string, number>> {
    const { result } = await this.api<{ result: Sample[] }>(`/api/v1/query?query=${encodeURIComponent(expr)}`);
    return new Map(result.map((s) => [s.metric[by] ?? '', Number(s.value[1])]));
  }

  /**
   * Waits until `expr` answers exactly `expected` (label `by` → value): scrapes happen on their own
   * schedule, so a value may lag the cluster by an interval or two.
   */
  async expectValues(expr: string, by: string, expected: Map<string, number>, timeoutMs: number): Promise<void> {
    const want = [...expected].sort().map(([k, v]) => `${k}=${v}`).join(', ');
    let got = '';
    await waitFor(`${expr} = {${want}}`, timeoutMs, async () => {
      got = [...(await this.values(expr, by))].sort().map(([k, v]) => `${k}=${v}`).join(', ');
      return got === want ? true : undefined;
    }, () => `last answer: {${got}}`);
  }
}

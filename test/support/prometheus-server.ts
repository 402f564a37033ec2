/**
 * A real Prometheus server for tests (issue 15): Debian's `prometheus` binary, run by the test on
 * a free loopback port with a generated scrape configuration and a storage directory of its own
 * (never the Debian system service). tools/prepare-services.sh installs the package.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutputLog } from './output-log';
import { pollUntil } from './poll';
import { freePort } from './shipdeck-process';

/** The binary: SHIPDECK_TEST_PROMETHEUS_BIN, else Debian's. */
export const PROMETHEUS_BIN = process.env.SHIPDECK_TEST_PROMETHEUS_BIN ?? '/usr/bin/prometheus';

/** One sample of an instant query's vector. */
export interface PromSample {
  metric: Record<string, string>;
  value: number;
}

/** A running Prometheus, from {@link startPrometheus}. */
export interface PrometheusServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** An instant query through `/api/v1/query`; fails on an error answer or a non-vector result. */
  query(promql: string): Promise<PromSample[]>;
  /** Its output so far, for failure messages. */
  output(): string;
  /** SIGTERM, wait for the exit, remove the storage and configuration. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@link startPrometheus}. */
export interface StartPrometheusOptions {
  /** Scrape jobs: job name → `host:port` targets (each scraped at `/metrics`). */
  jobs: Record<string, string[]>;
  /** Default 1 s, so that a test sees a change within seconds. */
  scrapeIntervalSeconds?: number;
}

/** Fails with what to do when the binary is missing (no skipping: the test needs it). */
export function requirePrometheus(): void {
  if (!existsSync(PROMETHEUS_BIN)) {
    throw new Error(
      `Prometheus is not installed at ${PROMETHEUS_BIN}: run tools/prepare-services.sh (installs Debian's prometheus package) ` +
        'or set SHIPDECK_TEST_PROMETHEUS_BIN to a prometheus binary',
    );
  }
}

/** The scrape configuration, in YAML (JSON is YAML). */
function scrapeConfig(jobs: Record<string, string[]>, intervalSeconds: number): string {
  const interval = `${intervalSeconds}s`;
  return JSON.stringify({
    global: { scrape_interval: interval, evaluation_interval: interval },
    scrape_configs: Object.entries(jobs).map(([job, targets]) => ({
      job_name: job,
      scrape_timeout: interval,
      static_configs: [{ targets }],
    })),
  });
}

/** Starts Prometheus and waits until it answers `/-/ready`. */
export async function startPrometheus(options: StartPrometheusOptions): Promise<PrometheusServer> {
  requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'shipdeck-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, scrapeConfig(options.jobs, options.scrapeIntervalSeconds ?? 1));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const log = new OutputLog();
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [`--config.file=${configFile}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (chunk: Buffer) => log.write('out', chunk));
  child.stderr?.on('data', (chunk: Buffer) => log.write('err', chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stopping: Promise<void> | undefined;
  const server: PrometheusServer = {
    url,
    output: () => log.text(),
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, { signal: AbortSignal.timeout(5_000) });
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== 'success' || body.data?.resultType !== 'vector') {
        throw new Error(`query ${promql}: ${body.status} ${body.error ?? body.data?.resultType ?? ''}`);
      }
      return body.data.result.map((sample) => ({ metric: sample.metric, value: Number(sample.value[1]) }));
    },
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  let last = 'no answer';
  try {
    await pollUntil(
      async () => {
        if (child.exitCode !== null) throw new Error(`prometheus exited with ${child.exitCode}:\n${log.text()}`);
        try {
          const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
          last = `HTTP ${response.status}`;
          return response.ok;
        } catch (error) {
          last = String((error as Error).cause ?? error);
          return false;
        }
      },
      { timeoutMs: 30_000, intervalMs: 200, describe: () => `prometheus did not become ready within 30 s (last: ${last}):\n${log.text()}` },
    );
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/**
 * Proof of the metrics with a real Prometheus (issue 15): Debian's `prometheus` scrapes the master
 * and both workers of a real cluster (PostgreSQL, RabbitMQ) every second; after tasks ran, the
 * expected series are read back through Prometheus's HTTP API: per-worker series from both
 * workers, tasks by state, step duration histograms, QUEUED→claimed latency.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { useCluster } from '../support/cluster-tests';
import { requireClusterPrerequisites } from '../support/cluster';
import { pollUntil } from '../support/poll';
import { workerMetricsUrl } from '../support/metrics-scrape';
import { PromSample, PrometheusServer, requirePrometheus, startPrometheus } from '../support/prometheus-server';
import { createDeployment, importPackage, startTask } from '../support/rest-actions';
import { Api, expectStatus, waitForTask } from '../support/rest-client';
import { listWorkers } from '../support/workers-api';

const DASHBOARD = join(__dirname, '../../docker/grafana/shipdeck-dashboard.json');
const OBSERVABILITY_DOC = join(__dirname, '../../docs/observability.md');

/** Every query of the Grafana dashboard, with Grafana's variables as the compose stack sets them. */
function dashboardQueries(): string[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: { targets?: { expr: string }[] }[] };
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) =>
      target.expr.replaceAll('$__rate_interval', '1m').replaceAll('$master_job', 'shipdeck-master').replaceAll('$worker_job', 'shipdeck-worker'),
    ),
  );
}

const TASKS = 4;
const STEPS_PER_TASK = 2;

beforeAll(async () => {
  requirePrometheus();
  await requireClusterPrerequisites();
}, 120_000);

describe('a real Prometheus scraping 1 master and 2 workers', () => {
  let client: Api;
  let prometheus: PrometheusServer | undefined;
  // Capacity 1 and steps that take a moment: with four tasks queued at once, both workers execute.
  const shared = useCluster({ masters: 1, workers: 2, workerEnv: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '1' } }, async (cluster) => {
    [client] = cluster.clients;
  });
  afterAll(() => prometheus?.stop());

  /** Polls `promql` until `accept` holds for its samples; fails showing the last answer. */
  async function queryUntil(promql: string, accept: (samples: PromSample[]) => boolean, timeoutMs = 20_000): Promise<PromSample[]> {
    let last: PromSample[] = [];
    await pollUntil(
      async () => {
        last = await prometheus!.query(promql);
        return accept(last);
      },
      { timeoutMs, intervalMs: 250, describe: () => `Prometheus: ${promql} answered ${JSON.stringify(last)}\n${prometheus!.output()}` },
    );
    return last;
  }

  const single = (expected: number) => (samples: PromSample[]) => samples.length === 1 && samples[0].value === expected;

  shared.scenario(
    'scrapes every process, and the tasks run show in the series read back from its HTTP API',
    async (cluster) => {
      const workerTargets = (await listWorkers(client)).map((worker) => new URL(workerMetricsUrl(worker)).host);
      expect(workerTargets).toHaveLength(2);
      const masterTarget = `127.0.0.1:${cluster.masters[0].port}`;
      prometheus = await startPrometheus({ jobs: { 'shipdeck-master': [masterTarget], 'shipdeck-worker': workerTargets } });

      // Every target is up: three scrapes that answered the text format.
      await queryUntil('sum(up)', single(3));

      const ids: string[] = [];
      for (let n = 1; n <= TASKS; n++) {
        const ledger = join(cluster.sandbox, `ledger-${n}.txt`);
        expectStatus(await client.put(`/hosts/ledger-${n}`, { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
        await importPackage(client, {
          application: `app-${n}`,
          version: '1.0.0',
          deployables: [
            { name: 'first', type: 'test.Ledger', order: 10, ledgerFile: ledger, sleepMs: 300 },
            { name: 'second', type: 'test.Ledger', order: 20, ledgerFile: ledger, sleepMs: 300 },
          ],
        });
        expectStatus(await client.put(`/environments/env-${n}`, { hosts: [`ledger-${n}`], dictionary: {} }), 201);
        ids.push(await createDeployment(client, `app-${n}`, '1.0.0', `env-${n}`));
      }
      await Promise.all(ids.map((id) => startTask(client, id)));
      await Promise.all(ids.map((id) => waitForTask(client, id, ['EXECUTED'])));

      // Tasks by state, as the master counts them in the database.
      await queryUntil('shipdeck_tasks{job="shipdeck-master",state="EXECUTED",type="DEPLOYMENT"}', single(TASKS));
      await queryUntil('sum(shipdeck_task_messages_published_total{job="shipdeck-master",outcome="published"})', single(TASKS));
      await queryUntil('shipdeck_workers{job="shipdeck-master",state="CONNECTED"}', single(2));

      // Per-worker series: both workers are scraped, and both executed steps.
      const capacities = await queryUntil('shipdeck_worker_capacity{job="shipdeck-worker"}', (s) => s.length === 2);
      expect(new Set(capacities.map((s) => s.metric.instance))).toEqual(new Set(workerTargets));
      expect(capacities.map((s) => s.value)).toEqual([1, 1]);
      const steps = await queryUntil(
        'sum by (instance) (shipdeck_step_duration_seconds_count{job="shipdeck-worker",step_type="test.Ledger",outcome="DONE"})',
        (s) => s.length === 2 && s.reduce((sum, x) => sum + x.value, 0) === TASKS * STEPS_PER_TASK,
      );
      for (const perWorker of steps) expect(perWorker.value).toBeGreaterThan(0);
      // The histogram's buckets: every step took at least its 300 ms sleep.
      await queryUntil('sum(shipdeck_step_duration_seconds_bucket{job="shipdeck-worker",step_type="test.Ledger",le="0.1"})', single(0));
      await queryUntil('sum(shipdeck_step_duration_seconds_bucket{job="shipdeck-worker",step_type="test.Ledger",le="+Inf"})', single(TASKS * STEPS_PER_TASK));

      // QUEUED→claimed: one observation per task, and a quantile Prometheus can compute from the buckets.
      await queryUntil('sum(shipdeck_task_queued_to_claimed_seconds_count{job="shipdeck-worker"})', single(TASKS));
      const [p90] = await queryUntil(
        'histogram_quantile(0.9, sum by (le) (shipdeck_task_queued_to_claimed_seconds_bucket{job="shipdeck-worker"}))',
        (s) => s.length === 1 && Number.isFinite(s[0].value),
      );
      expect(p90.value).toBeGreaterThanOrEqual(0);
      await queryUntil('sum(shipdeck_task_messages_delivered_total{job="shipdeck-worker"})', (s) => s.length === 1 && s[0].value >= TASKS);

      // The connection series exist on every process; nothing dropped a connection here. (A
      // redelivery can happen without a failure: RabbitMQ 3.10 overshoots the credit, and the
      // delivery released then comes back marked as redelivered.)
      for (const name of ['shipdeck_broker_reconnects_total', 'shipdeck_database_reconnects_total']) {
        await queryUntil(name, (s) => s.length === 3 && s.every((x) => x.value === 0));
      }
      // A worker series, exported by the two workers only: a master of a cluster has no worker part.
      await queryUntil('shipdeck_task_messages_redelivered_total', (s) => s.length === 2 && s.every((x) => x.metric.job === 'shipdeck-worker'));
      await queryUntil('count(shipdeck_task_queued_to_claimed_seconds_count) by (job)', (s) => s.length === 1 && s[0].metric.job === 'shipdeck-worker');
      await queryUntil('shipdeck_worker_ghost_tasks', (s) => s.length === 2 && s.every((x) => x.value === 0));
      // The Grafana dashboard's queries: Prometheus accepts each, and every metric they name exists.
      const queries = dashboardQueries();
      expect(queries.length).toBeGreaterThan(10);
      const names = new Set((await prometheus.query('count by (__name__) ({job=~"shipdeck-.+"})')).map((s) => s.metric.__name__));
      for (const promql of queries) {
        await prometheus.query(promql);
        for (const [name] of promql.matchAll(/\b(?:shipdeck|process)_[a-z_]+/g)) expect([name, names.has(name)]).toEqual([name, true]);
      }
      // docs/observability.md names every Shipdeck metric a process exposes.
      const doc = readFileSync(OBSERVABILITY_DOC, 'utf8');
      const documented = (name: string) => doc.includes(`\`${name.replace(/_(bucket|count|sum)$/, '')}\``);
      for (const name of names) if (name.startsWith('shipdeck_')) expect([name, documented(name)]).toEqual([name, true]);

      // Bounded labels: no task id anywhere.
      const all = await prometheus.query('{__name__=~"shipdeck_.+"}');
      for (const sample of all) for (const id of ids) expect(Object.values(sample.metric)).not.toContain(id);
    },
    120_000,
  );
});

/**
 * Prometheus metrics of real processes (issue 15): a cluster of one master and one worker on
 * PostgreSQL and RabbitMQ; `/metrics` of each answers the text format, and a deployment moves the
 * HTTP, publication, task, delivery, claim and step series.
 */
import { join } from 'node:path';
import { useCluster } from '../support/cluster-tests';
import { requireClusterPrerequisites } from '../support/cluster';
import { createDeployment, importPackage, startTask } from '../support/rest-actions';
import { scrape, series, workerMetricsUrl } from '../support/metrics-scrape';
import { Api, expectStatus, waitForTask } from '../support/rest-client';
import { listWorkers } from '../support/workers-api';

beforeAll(requireClusterPrerequisites, 120_000);

describe('metrics of a cluster of 1 master and 1 worker', () => {
  let client: Api;
  const shared = useCluster({ masters: 1, workers: 1, env: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '3' } }, async (cluster) => {
    [client] = cluster.clients;
  });

  shared.scenario('/metrics of master and worker answer the text format, and a deployment moves their series', async (cluster) => {
    const master = `${client.baseUrl}/metrics`;
    const [worker] = await listWorkers(client);
    const workerMetrics = workerMetricsUrl(worker);
    const ledger = join(cluster.sandbox, 'ledger.txt');
    expectStatus(await client.put('/hosts/ledger-1', { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
    await importPackage(client, {
      application: 'ledger-app',
      version: '1.0.0',
      deployables: [
        { name: 'first', type: 'test.Ledger', order: 10, ledgerFile: ledger, sleepMs: 10 },
        { name: 'second', type: 'test.Ledger', order: 20, ledgerFile: ledger, sleepMs: 10 },
      ],
    });
    expectStatus(await client.put('/environments/dev', { hosts: ['ledger-1'], dictionary: {} }), 201);

    const masterBefore = await scrape(master);
    const workerBefore = await scrape(workerMetrics);
    const value = (samples: Map<string, number>, key: string) => samples.get(key) ?? 0;
    const deployments = series('shipdeck_http_request_duration_seconds_count', { component: 'master', method: 'POST', route: '/api/v1/deployments', status: '201' });
    const published = series('shipdeck_task_messages_published_total', { component: 'master', outcome: 'published' });
    const delivered = series('shipdeck_task_messages_delivered_total', { component: 'worker' });
    const claims = series('shipdeck_task_queued_to_claimed_seconds_count', { component: 'worker' });
    const steps = series('shipdeck_step_duration_seconds_count', { component: 'worker', outcome: 'DONE', step_type: 'test.Ledger' });
    const executed = series('shipdeck_tasks', { component: 'master', state: 'EXECUTED', type: 'DEPLOYMENT' });

    const id = await createDeployment(client, 'ledger-app', '1.0.0', 'dev');
    await startTask(client, id);
    await waitForTask(client, id, ['EXECUTED']);

    const masterAfter = await scrape(master);
    expect(value(masterAfter, deployments)).toBe(value(masterBefore, deployments) + 1);
    expect(value(masterAfter, published)).toBe(value(masterBefore, published) + 1);
    expect(value(masterAfter, executed)).toBe(value(masterBefore, executed) + 1);
    expect(masterAfter.get(series('shipdeck_workers', { component: 'master', state: 'CONNECTED' }))).toBe(1);
    expect(masterAfter.get(series('process_cpu_user_seconds_total', { component: 'master' }))).toBeGreaterThan(0);
    // Route patterns only: no task id in any label.
    for (const key of masterAfter.keys()) expect(key).not.toContain(id);

    const workerAfter = await scrape(workerMetrics);
    expect(value(workerAfter, delivered)).toBe(value(workerBefore, delivered) + 1);
    expect(value(workerAfter, claims)).toBe(value(workerBefore, claims) + 1);
    expect(value(workerAfter, steps)).toBe(value(workerBefore, steps) + 2);
    expect(workerAfter.get(series('shipdeck_worker_capacity', { component: 'worker' }))).toBe(3);
    expect(workerAfter.get(series('shipdeck_worker_running_tasks', { component: 'worker' }))).toBe(0);
    expect(workerAfter.get(series('process_resident_memory_bytes', { component: 'worker' }))).toBeGreaterThan(0);
  });
});

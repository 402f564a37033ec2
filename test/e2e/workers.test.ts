/**
 * End-to-end tests of the worker list (issue 14): a real cluster (a master, two external
 * workers, PostgreSQL and RabbitMQ of their own). LAST SEEN moves with the heartbeats; a worker
 * that drained and exited is marked drained, can be removed by name with the real `shipdeck`
 * binary, and is otherwise pruned after `worker.pruneAfter`.
 */
import type { Cluster } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { pollUntil, withDeadline } from '../support/poll';
import { adminToken } from '../support/rest-actions';
import { api } from '../support/rest-client';
import { runShipdeck } from '../support/shipdeck-process';
import { FAST_CHANNEL_ENV } from '../support/timings';
import { listWorkers, waitForWorker } from '../support/workers-api';
import type { WorkerProcess } from '../support/worker-process';

/** Long enough for the removal by hand to come first, short enough to watch the pruning. */
const PRUNE_AFTER_S = 20;

describe('workers list: last seen, drained, removed, pruned', () => {
  let token: string | undefined;
  const { scenario } = useCluster(
    { masters: 1, workers: 2, env: { ...FAST_CHANNEL_ENV }, masterEnv: { SHIPDECK_WORKER_PRUNE_AFTER: `${PRUNE_AFTER_S}s` } },
    async (cluster) => {
      token = await adminToken(cluster.masters[0].url);
    },
  );

  /** The real `shipdeck` CLI with the test admin's API token. */
  const shipdeck = async (args: string[]) => runShipdeck(args, { env: { SHIPDECK_TOKEN: token as string } });

  const worker = (cluster: Cluster, name: string) => cluster.workers.find((w) => w.name === name) as WorkerProcess;

  scenario('LAST SEEN follows the heartbeats of a connected worker', async (cluster) => {
    const url = cluster.masters[0].url;
    const id = worker(cluster, 'worker-1').id as string;
    const first = (await listWorkers(url)).find((w) => w.id === id)?.lastSeen as string;
    expect(first).toEqual(expect.any(String));
    let latest = first;
    await pollUntil(
      async () => {
        latest = (await listWorkers(url)).find((w) => w.id === id)?.lastSeen ?? latest;
        return Date.parse(latest) > Date.parse(first);
      },
      { timeoutMs: 10_000, describe: () => `LAST SEEN of ${id} stayed ${first} (last read ${latest})` },
    );
    const listed = await shipdeck(['workers', 'list', '--server', url]);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n').find((line) => line.includes(id))).toMatch(/\bworker-1\b.*\bCONNECTED\b.*\d{4}-\d\d-\d\dT/);
  });

  scenario('a worker drained by name is marked drained once it exits, and `workers remove NAME` forgets it', async (cluster) => {
    const url = cluster.masters[0].url;
    const drained = worker(cluster, 'worker-1');
    const id = drained.id as string;
    const drain = await shipdeck(['workers', 'drain', 'worker-1', '--server', url]);
    expect({ code: drain.code, stderr: drain.stderr }).toEqual({ code: 0, stderr: '' });
    expect(drain.stdout).toContain(id);
    expect(await withDeadline(drained.exited, 20_000, 'the drained worker did not exit')).toEqual({ code: 0, signal: null });
    const row = await waitForWorker(url, id, ['DISCONNECTED'], 10_000);
    expect(row).toMatchObject({ state: 'DISCONNECTED', drained: true });
    // The other worker, which left nothing behind, is not marked.
    const other = (await listWorkers(url)).find((w) => w.name === 'worker-2') as object;
    expect(other).not.toHaveProperty('drained');
    const listed = await shipdeck(['workers', 'list', '--server', url]);
    expect(listed.stdout.split('\n').find((line) => line.includes(id))).toMatch(/\bDISCONNECTED\(drained\)/);

    const removed = await shipdeck(['workers', 'remove', 'worker-1', '--server', url]);
    expect({ code: removed.code, stdout: removed.stdout, stderr: removed.stderr }).toEqual({ code: 0, stdout: `worker ${id} removed\n`, stderr: '' });
    await waitForWorker(url, id, ['ABSENT'], 5_000);
  });

  scenario(
    'a drained worker nobody removes is pruned after worker.pruneAfter, not before',
    async (cluster) => {
      const url = cluster.masters[0].url;
      const drained = worker(cluster, 'worker-2');
      const id = drained.id as string;
      expect((await api(url).post(`/workers/${id}/drain`)).status).toBe(200);
      expect(await withDeadline(drained.exited, 20_000, 'the drained worker did not exit')).toEqual({ code: 0, signal: null });
      const gone = Date.now();
      await waitForWorker(url, id, ['DISCONNECTED'], 10_000);
      await waitForWorker(url, id, ['ABSENT'], (PRUNE_AFTER_S + 15) * 1000);
      expect(Date.now() - gone).toBeGreaterThanOrEqual((PRUNE_AFTER_S - 3) * 1000);
      expect(cluster.masters[0].output()).toMatch(/worker worker-2 pruned: drained and gone and not seen for over 20s \(worker\.pruneAfter\)/);
    },
    90_000,
  );
});

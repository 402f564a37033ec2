/**
 * Issue 10, the cluster's own channels, on real processes: an impostor that knows a worker's id
 * but not the cluster secret is refused by a real master and the real worker's session and tasks
 * are untouched; a cluster without a secret or TLS does not start unless it says it is insecure,
 * and then warns. (The forged, unsigned queue message is in test/upgrade/poison.test.ts.)
 */
import { join } from 'node:path';
import { CommandChannelClient } from '@shipdeck/command-channel';
import { requireClusterPrerequisites, startCluster } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import { readLedger } from '../support/ledger';
import { holdsFor, pollUntil } from '../support/poll';
import { putLedgerHost, runControl } from '../support/rest-actions';
import { api, waitForTask } from '../support/rest-client';
import { runShipdeck } from '../support/shipdeck-process';
import { FAST_CHANNEL_ENV } from '../support/timings';
import { listWorkers } from '../support/workers-api';
import { capturingLogger } from './support';

beforeAll(requireClusterPrerequisites, 120_000);

describe('cluster channels on real processes', () => {
  itWithCluster(
    'an impostor with a wrong secret under a real worker id is refused; the real worker keeps its session and its tasks',
    { masters: 1, workers: 1, env: FAST_CHANNEL_ENV },
    async (cluster) => {
      const master = cluster.masters[0]!;
      const real = cluster.workers[0]!;
      const realId = real.id!;
      const [registered] = await listWorkers(master.url);
      expect(registered).toMatchObject({ id: realId, state: 'CONNECTED' });

      // The real client code, with the real worker's id and a guessed secret.
      const log = capturingLogger('impostor');
      const impostor = new CommandChannelClient({
        masters: [`localhost:${master.workerPort}`],
        defaultPort: master.workerPort,
        resolveIntervalMs: 30_000,
        heartbeatIntervalMs: 300,
        secret: 'a-guessed-cluster-secret-of-enough-length-0123',
        registration: () => ({
          protocolVersion: 2,
          workerId: realId,
          name: 'impostor',
          address: 'evil:1',
          configHash: registered!.configHash,
          capacity: 100,
          state: 'RUNNING',
          tasks: [],
        }),
        onCommand: async () => ({ ok: true, message: 'obeyed' }),
        logger: log.logger,
      });
      await impostor.start();
      try {
        await pollUntil(() => master.output().includes(`refused the registration of worker ${realId}`), {
          timeoutMs: 10_000,
          describe: () => `the master did not refuse the impostor\n${master.output()}`,
        });
        expect(master.output()).toContain('its proof of the cluster secret is wrong');
        await pollUntil(() => log.has(/registration refused: its proof of the cluster secret is wrong/), { timeoutMs: 5_000, describe: () => log.dump() });
        // The real worker's session was not replaced or closed, and it still takes tasks.
        await holdsFor(
          async () => {
            const [row] = await listWorkers(master.url);
            return row?.id === realId && row.state === 'CONNECTED' && row.name === real.name;
          },
          1_500,
          () => master.output(),
        );
        expect(master.output()).not.toMatch(new RegExp(`worker ${realId} session closed|replacing its old session`));
        const ledger = join(cluster.sandbox, 'ledger.txt');
        await putLedgerHost(api(master.url), 'ledger-host', ledger);
        const id = await runControl(api(master.url), api(master.url), 'ledger-host');
        const executed = await waitForTask(master.url, id, ['EXECUTED'], 20_000);
        expect(executed.worker).toBe(realId);
        expect(readLedger(ledger).map((l) => l.pid)).toEqual([real.pid]);
        expect(master.output()).not.toContain('a-guessed-cluster-secret');
      } finally {
        await impostor.close();
      }
    },
    90_000,
  );

  it('a cluster master with neither a secret nor TLS refuses to start, naming cluster.secret', async () => {
    const run = await runShipdeck(['master'], {
      env: {
        SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
        SHIPDECK_DB_URL: 'postgres://postgres@127.0.0.1:5432/test',
        SHIPDECK_TASK_QUEUE_URL: 'amqp://guest:guest@127.0.0.1:5672',
        SHIPDECK_CLUSTER_SECRET: '',
      },
      timeoutMs: 15_000,
    });
    expect({ code: run.code, timedOut: run.timedOut }).toEqual({ code: 78, timedOut: false });
    expect(run.stderr).toContain('cluster.secret: required when task.inProcessWorker is false');
    expect(run.stderr).toContain('cluster.insecure: true');
  });

  it('an explicitly insecure cluster starts and warns at every start', async () => {
    const cluster = await startCluster({ masters: 1, workers: 0, env: { SHIPDECK_CLUSTER_SECRET: '', SHIPDECK_CLUSTER_INSECURE: 'true' } });
    try {
      const master = cluster.masters[0]!;
      const warning = /warn .*cluster\.insecure is true: this cluster runs without authentication/;
      expect(master.output()).toMatch(warning);
      expect(await master.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      await master.restart();
      expect(master.output().split('\n').filter((line) => warning.test(line))).toHaveLength(2);
    } finally {
      await cluster.stop();
    }
  }, 90_000);
});

/**
 * A client is not held for a broker outage: while a master has lost its broker connection, a start
 * is answered QUEUED at once (the task is committed; its message waits in the queue's outbox), and
 * once the broker is reachable again the message goes out and the task runs exactly once.
 * The master reaches RabbitMQ through a TCP proxy that the test cuts; the worker's connection
 * stays up. Real processes, PostgreSQL and RabbitMQ.
 */
import { join } from 'node:path';
import { Cluster, startCluster, withClusterOutput } from '../support/cluster';
import { readLedger } from '../support/ledger';
import { pollUntil } from '../support/poll';
import { createControl, getTask, putLedgerHost, startTask } from '../support/rest-actions';
import { TEST_AMQP_URL, requireServices } from '../support/services';
import { TcpProxy, startTcpProxy } from '../support/tcp-proxy';

/** Longer than a start could take without waiting for the broker; shorter than the publish timeout (30 s). */
const OUTAGE_MS = 12_000;

let cluster: Cluster | undefined;
let proxy: TcpProxy | undefined;

beforeAll(async () => {
  await requireServices();
  const broker = new URL(TEST_AMQP_URL);
  proxy = await startTcpProxy({ targetHost: broker.hostname, targetPort: Number(broker.port || 5672) });
  broker.host = `${proxy.host}:${proxy.port}`;
  cluster = await startCluster({ masters: 1, workers: 1, masterEnv: { SHIPDECK_TASK_QUEUE_URL: broker.toString() } });
}, 90_000);

afterAll(async () => {
  await cluster?.stop();
  await proxy?.close();
}, 60_000);

it(
  'a start while the master has no broker connection is answered during the outage; the task runs once after it',
  withClusterOutput(
    () => cluster,
    async () => {
      const c = cluster as Cluster;
      const p = proxy as TcpProxy;
      const [client] = c.clients;
      const ledger = join(c.sandbox, 'ledger.txt');
      await putLedgerHost(client, 'ledger-outage', ledger);
      const id = await createControl(client, 'ledger-outage');

      const outage = p.cut(OUTAGE_MS);
      // The master has noticed: its readiness says the broker is not connected.
      await pollUntil(async () => (await fetch(`${c.masters[0].url}/health/ready`)).status === 503, {
        timeoutMs: 10_000,
        describe: () => 'the master never reported the broker connection lost on /health/ready',
      });
      const started = await startTask(client, id);
      // Answered while the proxy still refuses the master's connections: the request did not wait for the broker.
      expect([started.state, p.down]).toEqual(['QUEUED', true]);
      await outage;

      let last = started;
      await pollUntil(
        async () => {
          last = await getTask(client, id);
          return last.state === 'EXECUTED';
        },
        { timeoutMs: 60_000, describe: () => `task ${id} is ${last.state} (attempt ${last.attempt}), not EXECUTED` },
      );
      expect(last.attempt).toBe(1);
      expect(readLedger(ledger).filter((line) => line.taskId === id)).toHaveLength(1);
    },
  ),
  120_000,
);

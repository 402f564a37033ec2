/**
 * Issue 17 (and issue 10's signatures), the poison test: messages published straight to the
 * broker — one with a configuration hash no master has, one with a malformed body, one naming a
 * task that does not exist, one naming a QUEUED task with a stale hash, and a forged unsigned one
 * — make no worker drain, do not make the queue spin (deliveries counted from the workers' debug
 * lines are bounded), are dropped with a warning naming the task or the reason, and the QUEUED
 * task runs once, under the current configuration. Real processes (1 master, 2 workers),
 * PostgreSQL, and RabbitMQ or Artemis (AMQP and STOMP). On Artemis the workers' `configHash`
 * selector keeps the messages of another configuration (and the malformed one, which has no
 * hash) away from them altogether: they stay in the queue, never delivered.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { computeConfigHash } from '@shipdeck/config';
import { requireClusterPrerequisites } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import { TEST_CLUSTER_SECRET } from '../support/credentials';
import { readLedger, readLedgerLines } from '../support/ledger';
import { holdsFor, pollUntil } from '../support/poll';
import { createControl, putLedgerHost, startTask } from '../support/rest-actions';
import { waitForTask } from '../support/rest-client';
import { FAST_CHANNEL_ENV } from '../support/timings';
import { listWorkers } from '../support/workers-api';
import { claimsOf, countLines, signed, taskMessage } from './support';
import { UPGRADE_TRANSPORTS } from './transports';

beforeAll(requireClusterPrerequisites, 120_000);

/** Hand backs of a message whose hash no live master has, per worker, before it is dropped (the default). */
const SET_ASIDE_HAND_BACKS = 3;

describe.each(UPGRADE_TRANSPORTS)('poison messages (1 master, 2 workers, $name)', (transport) => {
  itWithCluster(
    transport.selector
      ? 'drain nobody; those of another configuration never reach a worker; the others are dropped with a warning; the QUEUED task runs once'
      : 'drain nobody, do not spin, are dropped with a warning; the QUEUED task runs once under the current configuration',
    () => ({ masters: 1, workers: 0, env: FAST_CHANNEL_ENV, workerEnv: { SHIPDECK_LOG_LEVEL: 'debug' }, ...transport.clusterOptions() }),
    async (cluster) => {
      const [client] = cluster.clients;
      const master = cluster.masters[0]!;
      const current = computeConfigHash(cluster.home);
      const ledger = join(cluster.sandbox, 'ledger.txt');
      await putLedgerHost(client!, 'ledger-host', ledger);

      // A QUEUED task whose message no worker has seen: with no worker connected the master
      // publishes nothing (no live worker shares its configuration), the task waits QUEUED.
      const queuedId = await createControl(client!, 'ledger-host');
      await startTask(client!, queuedId);
      await holdsFor(async () => (await transport.readyCount(cluster.queueName)) === 0, 1_000, () => 'the master published a message no worker could take');

      const ghostId = randomUUID();
      const foreignId = randomUUID();
      const forgedId = randomUUID();
      const old = 'a'.repeat(64);
      await transport.publishMalformed(cluster.queueName, 'this is not a task message');
      await transport.publish(cluster.queueName, [
        // A hash no master has (a master of another time, or of another cluster with our secret).
        signed(taskMessage(foreignId, { configHash: old }), TEST_CLUSTER_SECRET),
        // The current hash, the right signature, but no such task.
        signed(taskMessage(ghostId, { configHash: current, publishedBy: 'master-that-was' }), TEST_CLUSTER_SECRET),
        // The QUEUED task, with a stale hash.
        signed(taskMessage(queuedId, { configHash: old }), TEST_CLUSTER_SECRET),
        // Forged: the current hash, no signature.
        taskMessage(forgedId, { configHash: current }),
      ]);
      expect(await transport.readyCount(cluster.queueName)).toBe(5);

      const workers = [await cluster.addWorker(), await cluster.addWorker()];
      const executed = await waitForTask(client!, queuedId, ['EXECUTED'], 30_000);

      // Every message that reaches a worker is dropped by one worker, with a warning naming it.
      const setAside = (id: string) => new RegExp(`task message set aside: task ${id} was published by master-of-another-time`);
      const forged = new RegExp(`\\[task ${forgedId}\\] task message dropped unexecuted: it is not signed`);
      const ghost = new RegExp(`\\[task ${ghostId}\\] task message without a claimable task, dropped`);
      const handBack = (id: string) => new RegExp(`\\[task ${id}\\] task message of a configuration no live master has: handing it back`);
      if (transport.selector) {
        // Of another configuration, or without one: the selector keeps them in the queue, away from every worker.
        await pollUntil(() => countLines(workers, forged) === 1 && countLines(workers, ghost) === 1, {
          timeoutMs: 30_000,
          describe: () => `the forged or the ghost message was not dropped once\n${cluster.describe(60)}`,
        });
        await pollUntil(async () => (await transport.readyCount(cluster.queueName)) === 3, {
          timeoutMs: 10_000,
          describe: () => 'the queue does not hold exactly the 3 messages of another or no configuration',
        });
        await holdsFor(
          () => [setAside(foreignId), setAside(queuedId), handBack(foreignId), handBack(queuedId), /malformed task message dropped/].every((p) => countLines(workers, p) === 0),
          1_000,
          () => `a message of another configuration reached a worker on ${transport.name}\n${cluster.describe(60)}`,
        );
      } else {
        await pollUntil(
          () =>
            countLines(workers, setAside(foreignId)) === 1 &&
            countLines(workers, setAside(queuedId)) === 1 &&
            countLines(workers, /malformed task message dropped/) === 1 &&
            countLines(workers, forged) === 1 &&
            countLines(workers, ghost) === 1,
          { timeoutMs: 30_000, describe: () => `not every poison message was dropped once\n${cluster.describe(60)}` },
        );
        await pollUntil(async () => (await transport.readyCount(cluster.queueName)) === 0, { timeoutMs: 5_000, describe: () => 'messages left in the queue' });
        // Bounded: each stale message was handed back at most SET_ASIDE_HAND_BACKS times per worker.
        for (const id of [foreignId, queuedId]) {
          const handBacks = countLines(workers, handBack(id));
          expect(handBacks).toBeGreaterThanOrEqual(SET_ASIDE_HAND_BACKS);
          expect(handBacks).toBeLessThanOrEqual(SET_ASIDE_HAND_BACKS * workers.length);
        }
      }

      // The QUEUED task ran once, on a worker of the current configuration, from a message of the real master.
      expect(readLedger(ledger)).toEqual([{ taskId: queuedId, step: executed.steps[0]!.path, pid: expect.any(Number) }]);
      expect(readLedgerLines(ledger).filter((l) => l.kind === 'begin')).toHaveLength(1);
      const claims = claimsOf(workers);
      expect(claims.map((c) => c.taskId)).toEqual([queuedId]);
      expect(claims[0]).toMatchObject({ configHash: current });
      expect(claims[0]!.publishedBy).toMatch(/^master-/);
      expect(claims[0]!.publishedBy).not.toBe('master-of-another-time');
      // Nothing else executed: no claim of the ghost, the foreign or the forged task.
      for (const id of [ghostId, foreignId, forgedId]) expect(claims.some((c) => c.taskId === id)).toBe(false);

      // Nobody drained: both workers still run and the master lists them CONNECTED.
      await holdsFor(() => workers.every((w) => w.status === undefined), 1_000, () => cluster.describe(40));
      for (const worker of workers) expect(worker.output()).not.toMatch(/-> DRAINING/);
      const listed = await listWorkers(master.url);
      expect(listed.map((w) => w.state).sort()).toEqual(['CONNECTED', 'CONNECTED']);
    },
    120_000,
  );
});

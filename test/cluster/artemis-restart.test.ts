/**
 * A broker restart under a running cluster (issue 11): 2 masters and 2 workers on an Artemis of
 * this test's own (test/queue/private-artemis.ts: own instance, journal and ports, so that killing
 * it disturbs no other test), over AMQP 1.0 and over STOMP. While tasks execute, the broker's JVM
 * is SIGKILLed, more tasks are started during the outage, and the broker is started again on its
 * journal. Nothing may be lost (every task EXECUTED, at its first attempt) and nothing may run
 * twice: the ledger test plugin's `begin` and `done` lines show each step executed exactly once
 * (no worker dies here, so no step may run again).
 *
 * Needs PostgreSQL, RabbitMQ (the other cluster suites' prerequisite check) and the Artemis
 * distribution of `artemis-broker/start-local` (fetched through Maven once).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskView } from '@shipdeck/tasks';
import { artemisQueueCounts, artemisQueueState, requireArtemis } from '../queue/artemis';
import { PrivateArtemis, startPrivateArtemis } from '../queue/private-artemis';
import { artemisDeleteQueueIfAny } from '../queue/transports';
import { requireClusterPrerequisites } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import { readLedgerLines } from '../support/ledger';
import { mapLimit } from '../support/map-limit';
import { pollUntil } from '../support/poll';
import { createControl, createDeployment, importLedgerPackage, listTasks, putEnvironment, putLedgerHost, startTask } from '../support/rest-actions';
import { Api, NoAnswerError, summarize } from '../support/rest-client';

const CONTROL_TASKS = 100;
const DEPLOYMENTS = 20;
/** Tasks started before the kill; the others are started while the broker is down. */
const STARTED_BEFORE = 90;
/** How many tasks are EXECUTED when the broker is killed: the run is well under way, far from over. */
const EXECUTED_AT_KILL = 15;

let broker: PrivateArtemis | undefined;

beforeAll(async () => {
  await requireClusterPrerequisites();
  broker = await startPrivateArtemis();
}, 300_000);

afterAll(async () => {
  await broker?.remove();
}, 120_000);

/** POST start that may get no answer while the broker is down (the master waits for its publish). */
async function startDuringOutage(client: Api, id: string): Promise<'answered' | 'unanswered'> {
  try {
    await startTask(client, id);
    return 'answered';
  } catch (error) {
    if (error instanceof NoAnswerError) return 'unanswered';
    throw error;
  }
}

describe.each(['amqp', 'stomp'] as const)('a cluster on a private Artemis over %s, the broker SIGKILLed mid-run', (protocol) => {
  const admin = () => (broker as PrivateArtemis).urls.amqp;
  itWithCluster(
    'restarted on its journal: every task EXECUTED at its first attempt, each step executed exactly once',
    () => ({
      masters: 2,
      workers: 2,
      amqpUrl: (broker as PrivateArtemis).urls[protocol],
      env: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '4' },
      queueBroker: { require: () => requireArtemis(admin()), deleteQueue: (queueName) => artemisDeleteQueueIfAny(queueName, admin()) },
    }),
    async (c) => {
      const artemis = broker as PrivateArtemis;
      const [a, b] = c.clients;
      const ledger = join(c.sandbox, 'ledger.txt');
      await putLedgerHost(a, 'ledger-host', ledger);
      await importLedgerPackage(b, 'restart-app', ledger, [200, 200]);
      const environments = Array.from({ length: DEPLOYMENTS }, (_, i) => `env-${i + 1}`);
      await mapLimit(environments, 4, (name) => putEnvironment(a, name, ['ledger-host']));
      // Every 6th task a deployment, through both masters; created now, while the broker is up.
      const ids = await mapLimit(
        Array.from({ length: CONTROL_TASKS + DEPLOYMENTS }, (_, i) => i),
        8,
        async (i) =>
          i % 6 === 5
            ? createDeployment([a, b][i % 2], 'restart-app', '1.0.0', environments[(i - 5) / 6])
            : createControl([a, b][i % 2], 'ledger-host', { sleepMs: 100 + (i % 4) * 100 }),
      );
      const started = Date.now();
      await mapLimit(ids.slice(0, STARTED_BEFORE), 8, (id, i) => startTask([b, a][i % 2], id));

      let atKill = new Map<string, TaskView>();
      await pollUntil(async () => [...(atKill = await listTasks(a)).values()].filter((t) => t.state === 'EXECUTED').length >= EXECUTED_AT_KILL, {
        timeoutMs: 60_000,
        intervalMs: 100,
        describe: () => `fewer than ${EXECUTED_AT_KILL} tasks EXECUTED`,
      });
      await artemis.kill();
      const killedAfterMs = Date.now() - started;
      const byState = (views: Map<string, TaskView>) =>
        JSON.stringify(Object.fromEntries([...views.values()].reduce((m, t) => m.set(t.state, (m.get(t.state) ?? 0) + 1), new Map<string, number>())));
      const stateAtKill = byState(atKill);

      // Started while the broker is down: the masters commit them QUEUED and publish once it is back.
      const outageStarts = mapLimit(ids.slice(STARTED_BEFORE), 4, (id, i) => startDuringOutage([a, b][i % 2], id));
      const restartBegan = Date.now();
      await artemis.start();
      const restartMs = Date.now() - restartBegan;
      const answers = await outageStarts;

      let seen = new Map<string, TaskView>();
      const allExecuted = async () => {
        seen = await listTasks(a);
        return ids.every((id) => seen.get(id)?.state === 'EXECUTED');
      };
      await pollUntil(allExecuted, {
        timeoutMs: 120_000,
        intervalMs: 300,
        describe: () => `not every task EXECUTED after the broker's restart: ${byState(seen)}; e.g.\n${[...seen.values()].filter((t) => t.state !== 'EXECUTED').slice(0, 3).map(summarize).join('\n')}`,
      });
      const executedMs = Date.now() - started;

      // Nothing lost: every task EXECUTED at its first attempt, with every step DONE, as both masters show.
      for (const client of [a, b]) {
        const views = await listTasks(client);
        const wrong = ids.map((id) => views.get(id)).filter((t) => !t || t.state !== 'EXECUTED' || t.attempt !== 1);
        expect(wrong.map((t) => (t ? summarize(t) : 'missing'))).toEqual([]);
      }
      // Nothing run twice: one `begin` and one `done` per step of each task, nothing else.
      const lines = readLedgerLines(ledger);
      const counts = new Map<string, number>();
      for (const l of lines) counts.set(`${l.taskId} ${l.kind} ${l.step}`, (counts.get(`${l.taskId} ${l.kind} ${l.step}`) ?? 0) + 1);
      const twice = [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key} ×${n}`);
      const perTask = new Map<string, number>();
      for (const l of lines) if (l.kind === 'done') perTask.set(l.taskId, (perTask.get(l.taskId) ?? 0) + 1);
      const stepsOf = (i: number) => (i % 6 === 5 ? 2 : 1);
      const wrongSteps = ids.filter((id, i) => perTask.get(id) !== stepsOf(i)).map((id) => `${id}: ${perTask.get(id) ?? 0} steps done`);
      const foreign = lines.filter((l) => !ids.includes(l.taskId)).map((l) => `${l.kind} ${l.taskId} ${l.step}`);
      expect({ twice, wrongSteps, foreign }).toEqual({ twice: [], wrongSteps: [], foreign: [] });
      expect(lines).toHaveLength(2 * ids.reduce((n, _, i) => n + stepsOf(i), 0));

      // The outage was real for every process: each one's queue connection came back.
      const logOf = (name: string) => {
        const file = join(c.logDir, `${name}.log`);
        return existsSync(file) ? readFileSync(file, 'utf8') : '';
      };
      const names = [...c.masters.map((m) => m.name), ...c.workers.map((w) => w.name)];
      expect(names.filter((name) => !/reconnected/.test(logOf(name)))).toEqual([]);
      // And the broker holds nothing any more: every message, duplicates included, was settled —
      // but for deliveries Artemis's STOMP connection cleanup orphaned (in flight for no consumer,
      // never redelivered before a broker restart: test/queue/fixtures/artemis-stomp-orphans.ts),
      // as the STOMP kill test of test/queue/amqp-contract.test.ts accounts for them. Every task
      // is EXECUTED once above, so such a message can only be a duplicate.
      let queue = '';
      let orphaned = 0;
      await pollUntil(
        async () => {
          const counts = await artemisQueueCounts(c.queueName, admin());
          queue = await artemisQueueState(c.queueName, admin());
          orphaned = protocol === 'stomp' ? counts.orphaned : 0;
          return counts.messages === orphaned && counts.held === 0;
        },
        { timeoutMs: 30_000, intervalMs: 500, describe: () => `queue ${c.queueName} not empty: ${queue}` },
      );
      if (orphaned > 0) console.info(`Artemis stomp: ${orphaned} duplicate message(s) orphaned by the broker's STOMP connection cleanup`);

      const unanswered = answers.filter((x) => x === 'unanswered').length;
      console.info(
        `Artemis ${protocol} restart under a cluster: killed ${killedAfterMs} ms into the run (tasks then: ${stateAtKill}), ` +
          `back after ${restartMs} ms; ${ids.length - STARTED_BEFORE} tasks started during the outage (${unanswered} got no HTTP answer but were applied); ` +
          `all ${ids.length} EXECUTED ${executedMs} ms into the run, ${lines.length / 2} step executions, each once`,
      );
    },
    300_000,
  );
});

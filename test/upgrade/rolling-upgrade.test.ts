/**
 * Issue 17, the rolling upgrade (spec §3): masters M1, M2 and workers W1, W2 on configuration A,
 * tasks created at a steady rate through both masters throughout; M1 restarts with configuration
 * B (an added plugin); W3, W4 start on B; W1 and W2 are drained (SIGTERM: they finish and exit 0);
 * M2 restarts on B. The ledger then shows every task executed exactly once, none stuck, each by a
 * worker of the configuration its message carried (the publishing master's, signed), and no
 * worker drained by itself. The longest interval in which no task started is reported.
 * Real processes, PostgreSQL, and RabbitMQ or Artemis (AMQP and STOMP).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeConfigHash } from '@shipdeck/config';
import { Cluster, requireClusterPrerequisites } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import { LedgerLine, readLedgerLines } from '../support/ledger';
import type { MasterProcess } from '../support/master-process';
import { pollUntil } from '../support/poll';
import { createControl, listTasks, putLedgerHost } from '../support/rest-actions';
import { api } from '../support/rest-client';
import { FAST_CHANNEL_ENV } from '../support/timings';
import type { WorkerProcess } from '../support/worker-process';
import { serverInfo } from '../support/workers-api';
import { claimsOf } from './support';
import { UPGRADE_TRANSPORTS } from './transports';

beforeAll(requireClusterPrerequisites, 120_000);

/** How often the generator creates a task (alternating masters). */
const CREATE_EVERY_MS = 250;
/** Each task's one step sleeps this long: tasks overlap, workers hold several at once. */
const STEP_SLEEP_MS = 150;

interface Created {
  id: string;
  /** The master it was created and started through. */
  through: string;
}

/**
 * Creates and starts a `record` task every {@link CREATE_EVERY_MS}, through the masters in turn;
 * a master that does not answer (restarting) is skipped for that task, as a load balancer would.
 */
class TaskGenerator {
  readonly created: Created[] = [];
  /** Creations a master refused or did not answer (the generator then used the other one). */
  readonly skipped: { master: string; error: string }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private turn = 0;

  constructor(
    private readonly masters: readonly MasterProcess[],
    private readonly host: string,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), CREATE_EVERY_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await pollUntil(() => !this.busy, { timeoutMs: 10_000, describe: () => 'the last creation did not end' });
  }

  private async startCreated(id: string, from: number): Promise<void> {
    for (let i = 0; i < this.masters.length; i++) {
      const master = this.masters[(from + i) % this.masters.length]!;
      const answer = await api(master.url)
        .post(`/tasks/${id}/start`)
        .catch((error: unknown) => ({ status: 0, text: String(error) }));
      if (answer.status === 200 || answer.status === 409) return;
      this.skipped.push({ master: master.name, error: `start ${id}: HTTP ${answer.status} ${answer.text}` });
    }
    // Left PENDING: the test's wait for every created task to be EXECUTED names it.
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const first = this.turn++ % this.masters.length;
      for (let i = 0; i < this.masters.length; i++) {
        const master = this.masters[(first + i) % this.masters.length]!;
        let id: string;
        try {
          id = await createControl(api(master.url), this.host, { sleepMs: STEP_SLEEP_MS });
        } catch (error) {
          this.skipped.push({ master: master.name, error: String(error) });
          continue;
        }
        // Created: it must run, even when the start's answer is lost (a master stopping while it
        // answers may have applied it): the start is tried on each master in turn, and 409 (no
        // longer PENDING) means an earlier try was applied.
        this.created.push({ id, through: master.name });
        await this.startCreated(id, (first + i) % this.masters.length);
        return;
      }
    } finally {
      this.busy = false;
    }
  }
}

/** Waits until `count` more tasks than `after` have finished their step. */
async function moreDone(cluster: Cluster, ledger: string, after: number, count: number, what: string): Promise<number> {
  let done = 0;
  await pollUntil(
    () => (done = readLedgerLines(ledger).filter((l) => l.kind === 'done').length) >= after + count,
    { timeoutMs: 60_000, describe: () => `${what}: only ${done - after} of ${count} more tasks done\n${cluster.describe(40)}` },
  );
  return done;
}

/** The longest gap between consecutive step starts of the ledger, in ms, with where it began. */
function longestGap(lines: readonly LedgerLine[]): { ms: number; from: string } {
  const starts = lines.filter((l) => l.kind === 'begin').map((l) => Date.parse(l.startedAt)).sort((a, b) => a - b);
  let gap = { ms: 0, from: '' };
  for (let i = 1; i < starts.length; i++) {
    const ms = starts[i]! - starts[i - 1]!;
    if (ms > gap.ms) gap = { ms, from: new Date(starts[i - 1]!).toISOString() };
  }
  return gap;
}

describe.each(UPGRADE_TRANSPORTS)('rolling upgrade (2 masters, workers replaced, $name)', (transport) => {
  itWithCluster(
    'every task executed exactly once, by a worker of its message\'s configuration; no worker drains by itself',
    () => ({ masters: 2, workers: 2, env: { ...FAST_CHANNEL_ENV, SHIPDECK_TASK_MAX_ACTIVE_TASKS: '4' }, ...transport.clusterOptions() }),
    async (cluster) => {
      const [m1, m2] = cluster.masters as [MasterProcess, MasterProcess];
      const [w1, w2] = cluster.workers as [WorkerProcess, WorkerProcess];
      const hashA = computeConfigHash(cluster.home);
      const homeB = cluster.cloneHome();
      // Configuration B: one more plugin (a valid one: the loader refuses a plugin that declares nothing).
      writeFileSync(join(homeB, 'plugins', 'extra.js'), "'use strict';\nexports.plugin = { name: 'extra', ciTypes: [] };\n");
      const hashB = computeConfigHash(homeB);
      expect(hashB).not.toBe(hashA);
      const ledger = join(cluster.sandbox, 'ledger.txt');
      await putLedgerHost(api(m1.url), 'ledger-host', ledger);
      const timeline: string[] = [];
      const mark = (what: string) => timeline.push(`${new Date().toISOString()} ${what}`);

      const generator = new TaskGenerator([m1, m2], 'ledger-host');
      generator.start();
      let done = await moreDone(cluster, ledger, 0, 6, 'on configuration A');

      mark('M1 restarts with configuration B');
      expect(await m1.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      await m1.restart({ SHIPDECK_HOME: homeB });
      expect((await serverInfo(m1.url)).configHash).toBe(hashB);
      done = await moreDone(cluster, ledger, done, 6, 'with M1 on B and only A workers');

      mark('W3, W4 start on configuration B');
      const w3 = await cluster.addWorker({ name: 'worker-3', home: homeB });
      const w4 = await cluster.addWorker({ name: 'worker-4', home: homeB });
      await pollUntil(() => readLedgerLines(ledger).some((l) => l.kind === 'done' && (l.pid === w3.pid || l.pid === w4.pid)), {
        timeoutMs: 60_000,
        describe: () => `no task executed on a B worker\n${cluster.describe(40)}`,
      });

      mark('W1, W2 drain');
      const drained = await Promise.all([w1.kill('SIGTERM'), w2.kill('SIGTERM')]);
      expect(drained).toEqual([{ code: 0, signal: null }, { code: 0, signal: null }]);
      done = await moreDone(cluster, ledger, readLedgerLines(ledger).filter((l) => l.kind === 'done').length, 4, 'with W1, W2 gone');

      mark('M2 restarts with configuration B');
      expect(await m2.kill('SIGTERM')).toEqual({ code: 0, signal: null });
      await m2.restart({ SHIPDECK_HOME: homeB });
      expect((await serverInfo(m2.url)).configHash).toBe(hashB);
      await moreDone(cluster, ledger, done, 6, 'with every master on B');
      await generator.stop();
      mark('generator stopped');

      // None stuck: every task created reaches EXECUTED.
      const ids = generator.created.map((c) => c.id);
      let states = new Map<string, string>();
      await pollUntil(
        async () => {
          const tasks = await listTasks(m2.url);
          states = new Map(ids.map((id) => [id, tasks.get(id)?.state ?? 'MISSING']));
          return [...states.values()].every((s) => s === 'EXECUTED');
        },
        {
          timeoutMs: 60_000,
          describe: () =>
            `tasks not EXECUTED: ${JSON.stringify([...states].filter(([, s]) => s !== 'EXECUTED'))}\n${timeline.join('\n')}\n${cluster.describe(60)}`,
        },
      );

      // Exactly once: one begin and one done per task in the ledger, nothing else.
      const lines = readLedgerLines(ledger);
      const perTask = (kind: 'begin' | 'done') => ids.map((id) => lines.filter((l) => l.kind === kind && l.taskId === id).length);
      expect(perTask('begin')).toEqual(ids.map(() => 1));
      expect(perTask('done')).toEqual(ids.map(() => 1));
      expect(lines.every((l) => ids.includes(l.taskId))).toBe(true);

      // Each by a worker whose configuration is the one its message carried (the publishing master's).
      const workers = [w1, w2, w3, w4];
      const configOf = new Map<number, string>([[w1.pid, hashA], [w2.pid, hashA], [w3.pid, hashB], [w4.pid, hashB]]);
      const claims = claimsOf(workers);
      expect(claims.map((c) => c.taskId).sort()).toEqual([...ids].sort());
      for (const claim of claims) {
        expect({ task: claim.taskId, message: claim.configHash }).toEqual({ task: claim.taskId, message: configOf.get(claim.worker.pid) });
        expect(claim.publishedBy).toMatch(/^master-/);
      }
      for (const line of lines) expect(configOf.has(line.pid)).toBe(true);

      // No worker drained by itself: W1, W2 left when told to (exit 0 above); W3, W4 still run.
      expect([w3.status, w4.status]).toEqual([undefined, undefined]);
      for (const worker of workers) expect(worker.output()).not.toMatch(/configuration mismatch/);
      expect(claims.filter((c) => c.worker === w1 || c.worker === w2).length).toBeGreaterThan(0);
      expect(claims.filter((c) => c.worker === w3 || c.worker === w4).length).toBeGreaterThan(0);

      const gap = longestGap(lines);
      process.stdout.write(
        `rolling upgrade on ${transport.name}: ${ids.length} tasks (${generator.skipped.length} creations retried on the other master while one restarted); ` +
          `longest interval without a task start: ${gap.ms} ms from ${gap.from}\n${timeline.join('\n')}\n`,
      );
    },
    300_000,
  );
});

/**
 * Chaos test (issue 5; spec §2, §5): nothing is lost and nothing DONE runs again while workers
 * and masters are SIGKILLed and the broker drops its connections.
 *
 * A cluster of 2 masters and 3 workers (capacity 4 each) on a PostgreSQL schema and a broker
 * queue of its own executes 300 tasks: 1-step control tasks and multi-step
 * deployments whose steps sleep 0–1500 ms, created and started through both masters while a
 * driver, at random (seed printed; CHAOS_SEED=n replays the data and the driver's draws):
 * - SIGKILLs a worker and starts it again on the same work directory after a pause (sometimes
 *   long enough for another worker to take its tasks over: takeover is on),
 * - SIGKILLs a master and starts it again (same ports, database, queue),
 * - drops every broker connection of the cluster: on RabbitMQ those of a virtual host of its own
 *   (`rabbitmqctl close_all_connections`), on Artemis those through a TCP proxy of its own.
 * It runs once per transport of test/queue/transports.ts (RabbitMQ over AMQP 1.0, Artemis over
 * AMQP 1.0 and over STOMP; SHIPDECK_TEST_TRANSPORTS picks some), with the same assertions: on
 * Artemis STOMP a message the broker orphans at a SIGKILL (see
 * test/queue/fixtures/artemis-stomp-orphans.ts) is republished by the masters' reconciler
 * (task.reconcileAfter), and the ledger rules below stay exact.
 * Each step of the ledger test plugin appends a `begin` and a `done` line to a ledger.
 * A task that ends FAILED must have been interrupted: exactly its interrupted step FAILED (the
 * worker stopped while it executed), the steps before it DONE, the ones after it PENDING; or, for
 * a worker killed between two steps, no step FAILED and DONE steps followed by PENDING ones. The
 * test then starts it again, until it is EXECUTED, and archives it.
 *
 * At the end every task is DONE with every step DONE, each step ran (ledger `done`) at least
 * once and at most once more than it was interrupted, nothing is left in any other state, no
 * task is missing, and the counts are printed. On failure the processes' logs, the ledger and
 * the fault log are kept in a temporary directory the failure names.
 *
 * Needs PostgreSQL, RabbitMQ with its AMQP 1.0 plugin, rabbitmqctl for that broker, and Artemis
 * (`artemis-broker/start-local`, or SHIPDECK_TEST_ARTEMIS_*_URL).
 */
import { INTERRUPTED_BETWEEN_STEPS } from '@shipdeck/worker-runtime';
import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { ShownTaskState, StepView, TaskView } from '@shipdeck/tasks';
import { Cluster, startCluster } from '../support/cluster';
import { readLedgerLines } from '../support/ledger';
import { mapLimit } from '../support/map-limit';
import { Answer, MasterPool } from '../support/master-pool';
import { pollUntil } from '../support/poll';
import { NoAnswerError, Page, summarize } from '../support/rest-client';
import { requireServices } from '../support/services';
import { Isolated, selectedTransports } from '../queue/transports';
import { ActionLog, seededRandom } from './action-log';
import { ChaosWorker } from './chaos-worker';

// ---- the workload

const CONTROL_TASKS = 180;
const DEPLOYMENTS = 120;
const TOTAL = CONTROL_TASKS + DEPLOYMENTS;
/** Applications to deploy; application k has 2 + (k % 3) sequential steps. */
const APPLICATIONS = 6;
const MAX_STEP_SLEEP_MS = 1500;
/** Tasks started but not yet archived: the feeder waits below this, so the queue does not pile up. */
const MAX_OUTSTANDING = 32;

// ---- the chaos and its bounds

const WORKERS = 3;
const CAPACITY = 4;
/** The driver stops once 90% of the tasks are archived and it did at least this much, or at CHAOS_MAX_MS. */
const MINIMUM = { workerKills: 8, masterKills: 2, brokerDrops: 3 };
const CHAOS_MAX_MS = 130_000;
/** After the driver stopped, how long every task may take to be DONE. */
const SETTLE_MS = 90_000;
const TEST_TIMEOUT_MS = 330_000;

const SETTINGS: Record<string, string> = {
  SHIPDECK_TASK_MAX_ACTIVE_TASKS: String(CAPACITY),
  SHIPDECK_WORKER_HEARTBEAT_INTERVAL: '300ms',
  SHIPDECK_WORKER_GRACE_PERIOD: '2s',
  SHIPDECK_TASK_LEASE_DURATION: '2s',
  SHIPDECK_TASK_RECONCILE_INTERVAL: '500ms',
  SHIPDECK_TASK_RECONCILE_AFTER: '3s',
  SHIPDECK_TASK_RECOVERY_TAKEOVER: 'auto',
  // Long enough for most restarted workers to recover their own tasks first (spec §5), short
  // enough for a worker paused longer to have its tasks taken over.
  SHIPDECK_TASK_RECOVERY_TAKEOVER_AFTER: '10s',
};
/** Pause between a worker's kill and its restart; a long one (1 in 4) outlasts lease + takeover delay. */
const SHORT_PAUSE_MS = [300, 2000] as const;
const LONG_PAUSE_MS = [14000, 16000] as const;
/** Time between two broker drops (each `rabbitmqctl` call also takes seconds of CPU). */
const BROKER_DROP_EVERY_MS = [7000, 12000] as const;

/** The failure of a step whose worker died while it executed (restart recovery and takeover alike). */
const INTERRUPTED_STEP = /the worker (stopped|shut down) while this step was executing/;
/** What a worker logs when it adopts a task whose owner's lease expired. */
const TAKEOVER_LINE = /took over task/;
/** What a worker logs after a restart that found interrupted tasks (`recovered=[ids]`). */
const RESTART_RECOVERY_LINE = /recovery after restart/;
/** What a starting process logs while it waits for the broker (e.g. its connection was just dropped). */
const BROKER_WAIT_LINE = /waiting for the message broker/;
/** A line logged at level error. */
const ERROR_LINE = /^\d\d:\d\d:\d\d\.\d{3} error/;
/** What a worker logs (debug) for a message whose task it could not claim: a duplicate absorbed. */
const DUPLICATE_LINE = /task message without a claimable task, dropped/;

/** States a task of this test may be seen in while it runs (UNKNOWN: its worker is away). */
const EXPECTED_STATES: readonly ShownTaskState[] = ['PENDING', 'QUEUED', 'EXECUTING', 'UNKNOWN', 'EXECUTED', 'FAILED'];

interface Created {
  taskId: string;
}

/** What the test knows of one task it created. */
interface Tracked {
  id: string;
  kind: 'control' | 'deployment';
  /** Starts the masters accepted (the task's `attempt` must equal it). */
  starts: number;
  /** When the last start was known to be accepted (ms). */
  startedAt: number;
  /** Per step path: how many times the step was seen FAILED by an interruption. */
  interruptions: Map<string, number>;
  /** Times the task was seen FAILED, interrupted between two steps (no step FAILED). */
  betweenSteps: number;
  /** The attempt whose FAILED state was handled last. */
  handledAttempt: number;
  archived: boolean;
  /** A start or archive of it is under way. */
  busy: boolean;
}

/** Waits for `promise`, at most `ms`. */
async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([promise, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/**
 * Whether a FAILED task looks interrupted, and where: exactly one FAILED step, failed because
 * its worker stopped, the steps before it DONE and the ones after it PENDING; or, for a worker
 * that died between two steps (or between its claim and the first step), no FAILED step at all,
 * DONE steps followed by PENDING ones. Answers a problem otherwise.
 */
function interruptionOf(task: TaskView): { step: StepView } | { between: true } | { problem: string } {
  const steps = task.steps;
  const failed = steps.filter((s) => s.state === 'FAILED');
  if (failed.length > 1) return { problem: `${failed.length} steps FAILED, expected only the interrupted one` };
  if (failed.length === 1) {
    const at = steps.indexOf(failed[0]);
    const step = failed[0];
    if (!INTERRUPTED_STEP.test(step.failure ?? '')) return { problem: `step ${step.path} FAILED for another reason: ${step.failure}` };
    const before = steps.slice(0, at).filter((s) => s.state !== 'DONE');
    if (before.length > 0) return { problem: `steps before the interrupted step ${step.path} are not DONE: ${before.map((s) => `${s.path} ${s.state}`).join(', ')}` };
    const after = steps.slice(at + 1).filter((s) => s.state !== 'PENDING');
    if (after.length > 0) return { problem: `steps after the interrupted step ${step.path} are not PENDING: ${after.map((s) => `${s.path} ${s.state}`).join(', ')}` };
    if (!(task.failure ?? '').includes(step.path)) return { problem: `the task's failure does not name step ${step.path}: ${task.failure}` };
    return { step };
  }
  const firstPending = steps.findIndex((s) => s.state !== 'DONE');
  if (firstPending < 0) return { problem: 'FAILED although every step is DONE' };
  const odd = steps.slice(firstPending).filter((s) => s.state !== 'PENDING');
  if (odd.length > 0) return { problem: `no step FAILED, but steps are ${steps.map((s) => `${s.path} ${s.state}`).join(', ')}` };
  if (task.failure !== INTERRUPTED_BETWEEN_STEPS) {
    return { problem: `no step FAILED, and the task failed for another reason: ${task.failure}` };
  }
  return { between: true };
}

describe.each(selectedTransports().map((transport) => [transport.name, transport] as const))(
  'chaos on %s: 2 masters, 3 workers, 300 tasks, workers and masters SIGKILLed, broker connections dropped',
  (_, transport) => {
    const seed = Number(process.env.CHAOS_SEED ?? Math.floor(Math.random() * 2 ** 31));
    /** Draws of the data, the process faults and the broker faults: one sequence each, from the seed. */
    const draws = (offset: number) => {
      const random = seededRandom(seed + offset);
      return { random, between: (min: number, max: number) => Math.floor(min + random() * (max - min + 1)) };
    };

    /** The broker place of the cluster, whose connections the driver drops. */
    let isolated: Isolated | undefined;
    let cluster: Cluster | undefined;
    let actions: ActionLog | undefined;
    const workers: ChaosWorker[] = [];
    /** Set to end the driver, the feeder and the supervisor (also on failure). */
    let over = false;
    const background: Promise<unknown>[] = [];
    let keepDir: string | undefined;
    let passed = false;

    beforeAll(async () => {
      await requireServices();
      await transport.require();
      isolated = await transport.isolate();
    }, 120_000);

    afterAll(async () => {
      over = true;
      await within(Promise.allSettled(background), 60_000);
      await Promise.allSettled(workers.map((w) => w.kill('SIGKILL')));
      // Also when the test timed out, which the test body cannot catch.
      if (!passed && cluster) keepDir ??= mkdtempSync(join(tmpdir(), 'shipdeck-chaos-logs-'));
      if (keepDir && cluster) {
        const c = cluster;
        await Promise.allSettled(c.masters.map((m) => m.kill('SIGTERM')));
        await Promise.allSettled(workers.map((w) => w.logComplete()));
        cpSync(c.logDir, join(keepDir, 'logs'), { recursive: true });
        cpSync(c.sandbox, join(keepDir, 'sandbox'), { recursive: true });
        console.error(`chaos test failed (seed ${seed}): process logs, ledger and fault log kept in ${keepDir}`);
      }
      const problems: string[] = [];
      await cluster?.stop().catch((error: unknown) => problems.push(String(error)));
      await isolated?.drop().catch((error: unknown) => problems.push(String(error)));
      if (problems.length > 0) throw new Error(`cleaning up the chaos test: ${problems.join('; ')}`);
    }, 120_000);

    it(
      'every task reaches DONE legitimately, none runs a DONE step again, none is lost or stuck',
      async () => {
        const began = Date.now();
        const data = draws(0);
        const processFaults = draws(1);
        const brokerFaults = draws(2);
        cluster = await startCluster({
          masters: 2,
          workers: 0,
          ...transport.clusterOptions((isolated as Isolated).url),
          env: SETTINGS,
        });
        const c = cluster;
        const log = (actions = new ActionLog(join(c.sandbox, 'chaos-actions.log')));
        const violations: string[] = [];
        const seen = new Set<string>();
        const violation = (text: string) => {
          if (seen.has(text)) return;
          seen.add(text);
          if (violations.length < 200) violations.push(`${new Date().toISOString()} ${text}`);
          log.record('VIOLATION', text);
        };
        try {
          const pool = new MasterPool(c.masters);
          for (let i = 1; i <= WORKERS; i++) workers.push(new ChaosWorker(c, `worker-${i}`, { SHIPDECK_LOG_LEVEL: 'debug' }));
          await Promise.all(workers.map((w, i) => w.start(pool.liveUrl(i))));

          // ---- data: one ledger host, one environment per deployment, applications of 2–4 steps
          const ledgerFile = join(c.sandbox, 'ledger.txt');
          const expectCode = async <T>(answer: Promise<Answer<T>>, status: number, what: string): Promise<T> => {
            const a = await answer;
            if (a.status !== status) throw new Error(`${what}: expected HTTP ${status}, got ${a.status}: ${a.text}`);
            return a.body;
          };
          await expectCode(pool.once('PUT', '/hosts/chaos-host', { type: 'ledger', properties: { ledgerFile } }), 201, 'PUT /hosts/chaos-host');
          const stepsOf = new Map<string, number>();
          for (let k = 1; k <= APPLICATIONS; k++) {
            const steps = 2 + (k % 3);
            stepsOf.set(`chaos-app-${k}`, steps);
            const deployables = Array.from({ length: steps }, (_, s) => ({
              name: `part-${s + 1}`,
              type: 'test.Ledger',
              order: 10 * (s + 1),
              ledgerFile,
              sleepMs: data.between(0, MAX_STEP_SLEEP_MS),
            }));
            await expectCode(pool.once('POST', '/packages', { application: `chaos-app-${k}`, version: '1.0.0', deployables }, k), 201, 'POST /packages');
          }
          const environments = Array.from({ length: DEPLOYMENTS }, (_, i) => `chaos-env-${String(i + 1).padStart(3, '0')}`);
          await mapLimit(environments, 8, (name, i) =>
            expectCode(pool.once('PUT', `/environments/${name}`, { hosts: ['chaos-host'], dictionary: {} }, i), 201, `PUT /environments/${name}`),
          );
          // Deployments interleaved with control tasks: 2 of every 5 jobs.
          let nextEnvironment = 0;
          const jobs = Array.from({ length: TOTAL }, (_, i) =>
            i % 5 === 1 || i % 5 === 3
              ? { kind: 'deployment' as const, application: `chaos-app-${(i % APPLICATIONS) + 1}`, environment: environments[nextEnvironment++] }
              : { kind: 'control' as const, sleepMs: data.between(0, MAX_STEP_SLEEP_MS) },
          );
          expect(jobs.filter((j) => j.kind === 'deployment')).toHaveLength(DEPLOYMENTS);
          const setupMs = Date.now() - began;
          log.record('setup', `cluster of 2 masters and ${WORKERS} workers and the data ready after ${setupMs} ms; seed ${seed}; ${transport.name}, through ${isolated?.what}`);

          // ---- the test as the user: start, restart what failed by interruption, archive
          const tracked = new Map<string, Tracked>();
          const createdThrough = [0, 0];
          const startedThrough = [0, 0];
          let restarts = 0;
          let betweenSteps = 0;
          let startsUnanswered = 0;
          const outstanding = () => [...tracked.values()].filter((t) => t.starts > 0 && !t.archived).length;

          const getTask = async (id: string): Promise<TaskView | undefined> => {
            const answer = await pool.get<TaskView>(`/tasks/${id}`);
            if (answer.status === 200) return answer.body;
            violation(`task ${id}: GET /tasks/${id} answered HTTP ${answer.status}: ${answer.text}`);
            return undefined;
          };

          /** POST start until a master accepted it (an unanswered start that went through counts). */
          const start = async (t: Tracked, prefer: number): Promise<void> => {
            const attempt = t.starts + 1;
            for (let i = 0; i < 30 && !over; i++) {
              let answer: Answer<TaskView> | undefined;
              try {
                answer = await pool.once<TaskView>('POST', `/tasks/${t.id}/start`, undefined, prefer + i);
              } catch (error) {
                if (!(error instanceof NoAnswerError)) throw error;
                startsUnanswered++;
              }
              if (answer?.status === 200) {
                t.starts = attempt;
                t.startedAt = Date.now();
                if (attempt === 1) startedThrough[answer.master]++;
                if (answer.body.attempt !== attempt) violation(`task ${t.id}: start ${attempt} answered attempt ${answer.body.attempt}`);
                return;
              }
              if (answer && answer.status !== 409 && answer.status < 500) {
                violation(`task ${t.id}: start ${attempt} answered HTTP ${answer.status}: ${answer.text}`);
                return;
              }
              // No answer, a conflict or a server error: the task tells whether the start was applied.
              const now = await getTask(t.id);
              if (!now) return;
              if (now.attempt !== undefined && now.attempt >= attempt) {
                t.starts = attempt;
                t.startedAt = Date.now();
                log.record('start-unanswered', `task ${t.id}: start ${attempt} got no answer (${answer ? `HTTP ${answer.status}` : 'none'}) but was applied: ${now.state}`);
                return;
              }
              await delay(300);
            }
            if (!over) violation(`task ${t.id}: start ${attempt} was refused or unanswered 30 times`);
          };

          const archive = async (t: Tracked, prefer: number): Promise<void> => {
            for (let i = 0; i < 30 && !over; i++) {
              let answer: Answer<TaskView> | undefined;
              try {
                answer = await pool.once<TaskView>('POST', `/tasks/${t.id}/archive`, undefined, prefer + i);
              } catch (error) {
                if (!(error instanceof NoAnswerError)) throw error;
              }
              if (answer?.status === 200 && answer.body.state === 'DONE') {
                t.archived = true;
                return;
              }
              if (answer && answer.status !== 409 && answer.status < 500) {
                violation(`task ${t.id}: archive answered HTTP ${answer.status}: ${answer.text}`);
                return;
              }
              const now = await getTask(t.id);
              if (!now) return;
              if (now.state === 'DONE') {
                t.archived = true;
                return;
              }
              if (now.state !== 'EXECUTED') {
                violation(`task ${t.id}: archive refused (${answer ? `HTTP ${answer.status}` : 'no answer'}) and the task is ${now.state}:\n${summarize(now)}`);
                return;
              }
              await delay(300);
            }
            if (!over) violation(`task ${t.id}: archive was refused or unanswered 30 times`);
          };

          const busy = (t: Tracked, work: Promise<void>) => {
            t.busy = true;
            return work
              .catch((error: unknown) => violation(`task ${t.id}: ${String(error)}`))
              .finally(() => (t.busy = false));
          };

          /** Interrupted tasks are checked and started again; executed ones archived. */
          const handleFailed = async (task: TaskView, prefer: number): Promise<void> => {
            const t = tracked.get(task.id);
            if (!t || t.busy || (task.attempt ?? 0) <= t.handledAttempt) return;
            t.handledAttempt = task.attempt ?? 0;
            if ((task.attempt ?? 0) !== t.starts) violation(`task ${task.id}: FAILED with attempt ${task.attempt}, but it was started ${t.starts} times`);
            const found = interruptionOf(task);
            if ('problem' in found) {
              violation(`task ${task.id} FAILED, but not as an interrupted task: ${found.problem}\n${summarize(task)}`);
              return;
            }
            if ('step' in found) {
              t.interruptions.set(found.step.path, (t.interruptions.get(found.step.path) ?? 0) + 1);
            } else {
              t.betweenSteps++;
              betweenSteps++;
            }
            log.record('recovered', `task ${task.id} FAILED at attempt ${task.attempt} on ${task.worker}: ${'step' in found ? `step ${found.step.path} interrupted` : 'interrupted between steps'}; starting it again`);
            restarts++;
            await busy(t, start(t, prefer));
          };
          const handleExecuted = async (task: TaskView, prefer: number): Promise<void> => {
            const t = tracked.get(task.id);
            if (!t || t.busy || t.archived) return;
            const notDone = task.steps.filter((s) => s.state !== 'DONE');
            if (notDone.length > 0) {
              violation(`task ${task.id} EXECUTED with steps not DONE:\n${summarize(task)}`);
              return;
            }
            await busy(t, archive(t, prefer));
          };

          let snapshot = new Map<string, TaskView>();
          let lastSweep = 0;
          /** A full look: every task listed in a state it may be in, none missing. */
          const sweep = async (): Promise<void> => {
            const fetchedAt = Date.now();
            const answer = await pool.get<Page<TaskView>>('/tasks?limit=1000');
            if (answer.status !== 200) {
              violation(`GET /tasks answered HTTP ${answer.status}: ${answer.text}`);
              return;
            }
            snapshot = new Map(answer.body.items.map((t) => [t.id, t]));
            for (const task of answer.body.items) {
              const t = tracked.get(task.id);
              if (!t) continue; // created, its answer not handled yet (checked at the end)
              if (!EXPECTED_STATES.includes(task.state) || (task.state === 'PENDING' && t.starts > 0 && t.startedAt < fetchedAt)) {
                violation(`task ${task.id} is ${task.state}:\n${summarize(task)}`);
              }
            }
            // A task started, not archived and not listed must have been created after the list was read.
            for (const t of [...tracked.values()]) {
              if (t.archived || t.busy || t.starts === 0 || snapshot.has(t.id)) continue;
              const now = await getTask(t.id);
              if (now && (now.state === 'DONE' || now.state === 'CANCELLED') && !t.archived && !t.busy) {
                violation(`task ${t.id} left the task list without being archived by the test: ${summarize(now)}`);
              }
            }
          };

          const supervise = async (): Promise<void> => {
            let turn = 0;
            while (!over) {
              turn++;
              try {
                const [failed, executed] = await Promise.all([
                  pool.get<Page<TaskView>>('/tasks?state=FAILED&limit=1000', 30_000, turn),
                  pool.get<Page<TaskView>>('/tasks?state=EXECUTED&limit=1000', 30_000, turn + 1),
                ]);
                const work: Promise<void>[] = [];
                // List items are summaries: the handlers read the full view (plan and steps) of each.
                const full = async (task: TaskView, handle: (view: TaskView) => Promise<void>) => {
                  const view = await getTask(task.id);
                  if (view) await handle(view);
                };
                if (failed.status === 200) work.push(...failed.body.items.map((task, i) => full(task, (view) => handleFailed(view, turn + i))));
                if (executed.status === 200) {
                  work.push(...executed.body.items.map((task, i) => full(task, (view) => handleExecuted(view, turn + i))));
                }
                await Promise.all(work);
                if (Date.now() - lastSweep > 3_000) {
                  lastSweep = Date.now();
                  await sweep();
                }
              } catch (error) {
                violation(`supervisor: ${String(error)}`);
              }
              await delay(400);
            }
          };

          const feed = async (): Promise<void> => {
            await mapLimit(jobs, 4, async (job, i) => {
              await pollUntil(() => over || outstanding() < MAX_OUTSTANDING, {
                timeoutMs: CHAOS_MAX_MS + SETTLE_MS,
                intervalMs: 100,
                describe: () => `feeder: ${outstanding()} tasks outstanding for too long`,
              });
              if (over) return;
              // Created through one master, started through the other (when both are up).
              const [creator, starter] = [i % 2, (i + 1) % 2];
              let answer: Answer<Created>;
              try {
                answer =
                  job.kind === 'control'
                    ? await pool.create<Created>('/control-tasks', { target: 'chaos-host', control: 'record', parameters: { sleepMs: job.sleepMs } }, creator)
                    : await pool.create<Created>('/deployments', { application: job.application, version: '1.0.0', environment: job.environment }, creator);
              } catch (error) {
                violation(`creating job ${i} (${job.kind}) got no answer: whether the task exists is unknown: ${String(error)}`);
                return;
              }
              if (answer.status !== 201) {
                violation(`creating job ${i} (${job.kind}): HTTP ${answer.status}: ${answer.text}`);
                return;
              }
              createdThrough[answer.master]++;
              const t: Tracked = {
                id: answer.body.taskId,
                kind: job.kind,
                starts: 0,
                startedAt: 0,
                interruptions: new Map(),
                betweenSteps: 0,
                handledAttempt: 0,
                archived: false,
                busy: false,
              };
              tracked.set(t.id, t);
              await busy(t, start(t, starter));
            });
          };

          // ---- the driver
          const counts = { workerKills: 0, masterKills: 0, brokerDrops: 0, connectionsClosed: 0, longPauses: 0 };
          const heldBy = (worker: ChaosWorker) =>
            [...snapshot.values()].filter((t) => t.worker === worker.id && ['EXECUTING', 'UNKNOWN'].includes(t.state)).length;
          /** Workers being started again after a kill (in the background: starting takes seconds). */
          const restarting = new Map<ChaosWorker, Promise<void>>();
          const killWorker = async () => {
            const live = workers.filter((w) => w.alive && !restarting.has(w));
            // At least one worker always runs.
            if (live.length < 2) return;
            const victim = live[processFaults.between(0, live.length - 1)];
            const pid = victim.current?.pid;
            const held = heldBy(victim);
            const exit = await victim.kill('SIGKILL');
            counts.workerKills++;
            log.record('worker-kill', `${victim.name} pid ${pid} (worker ${victim.id}) SIGKILL, exit ${JSON.stringify(exit)}; ~${held} task(s) executing there at the last look`);
            // A long pause lets the lease expire long enough for another worker to take the tasks over.
            const long = processFaults.random() < 0.25;
            if (long) counts.longPauses++;
            const pause = long ? processFaults.between(...LONG_PAUSE_MS) : processFaults.between(...SHORT_PAUSE_MS);
            const api = processFaults.between(0, 1);
            const restart = (async () => {
              await delay(pause);
              const restarted = await victim.start(pool.liveUrl(api));
              log.record('worker-restart', `${victim.name} pid ${restarted.pid} on the same work directory, ${pause} ms after the kill`);
            })()
              .catch((error: unknown) => violation(`${victim.name} did not start again: ${error instanceof Error ? error.message : String(error)}`))
              .finally(() => restarting.delete(victim));
            restarting.set(victim, restart);
          };
          const killMaster = async () => {
            const index = processFaults.between(0, c.masters.length - 1);
            const master = c.masters[index];
            await pool.markDown(index);
            const pid = master.pid;
            const exit = await master.kill('SIGKILL');
            counts.masterKills++;
            log.record('master-kill', `${master.name} pid ${pid} SIGKILL, exit ${JSON.stringify(exit)}`);
            const pause = processFaults.between(300, 2000);
            await delay(pause);
            await master.restart();
            pool.markUp(index);
            log.record('master-restart', `${master.name} pid ${master.pid} ready again, ${pause} ms after the kill`);
          };
          const processLane = async () => {
            const cycle = ['worker', 'worker', 'master', 'worker', 'worker', 'worker'] as const;
            for (let i = 0; !over && !chaosOver(); i++) {
              await delay(processFaults.between(1000, 3000));
              if (over || chaosOver()) break;
              if (cycle[i % cycle.length] === 'master') await killMaster();
              else await killWorker();
            }
            await Promise.all(restarting.values());
          };
          const brokerLane = async () => {
            while (!over && !chaosOver()) {
              await delay(brokerFaults.between(...BROKER_DROP_EVERY_MS));
              if (over || chaosOver()) break;
              const closed = await (isolated as Isolated).kill();
              counts.brokerDrops++;
              counts.connectionsClosed += closed;
              log.record('broker-drop', `every connection through ${isolated?.what} ended: ${plural(closed, 'connection')}`);
            }
          };

          const chaosBegan = Date.now();
          let fed = false;
          const archivedCount = () => [...tracked.values()].filter((t) => t.archived).length;
          const enough = () =>
            counts.workerKills >= MINIMUM.workerKills && counts.masterKills >= MINIMUM.masterKills && counts.brokerDrops >= MINIMUM.brokerDrops;
          let stoppedAt: number | undefined;
          const chaosOver = () => {
            if (stoppedAt !== undefined) return true;
            const done = fed && archivedCount() >= 0.9 * TOTAL && enough();
            if (done || Date.now() - chaosBegan > CHAOS_MAX_MS || violations.length > 0) stoppedAt = Date.now();
            return stoppedAt !== undefined;
          };
          const guard = (name: string, work: () => Promise<void>) =>
            work().catch((error: unknown) => violation(`${name}: ${error instanceof Error ? error.message : String(error)}`));

          const supervisor = guard('supervisor', supervise);
          const feeder = guard('feeder', feed).finally(() => (fed = true));
          const lanes = Promise.all([guard('driver (processes)', processLane), guard('driver (broker)', brokerLane)]);
          background.push(supervisor, feeder, lanes);

          // ---- chaos, then settle
          await pollUntil(() => chaosOver(), { timeoutMs: CHAOS_MAX_MS + 10_000, intervalMs: 200, describe: () => 'the chaos did not end' });
          log.record('chaos-end', `driver stopping: ${archivedCount()}/${TOTAL} archived, ${violations.length} violation(s)`);
          await lanes;
          const chaosMs = Date.now() - chaosBegan;
          log.record('settle', `driver stopped after ${chaosMs} ms; every process runs again`);
          const failFast = () => {
            if (violations.length > 0) throw new Error(`${plural(violations.length, 'violation')}:\n${violations.join('\n')}`);
          };
          failFast();
          expect({ workers: workers.map((w) => [w.name, w.alive]), masters: c.masters.map((_, i) => pool.isUp(i)) }).toEqual({
            workers: workers.map((w) => [w.name, true]),
            masters: c.masters.map(() => true),
          });
          const settleBegan = Date.now();
          await pollUntil(
            () => {
              failFast();
              return fed && tracked.size === TOTAL && archivedCount() === TOTAL;
            },
            {
              timeoutMs: SETTLE_MS,
              intervalMs: 250,
              describe: () => {
                const late = [...tracked.values()].filter((t) => !t.archived);
                const shown = late.slice(0, 8).map((t) => {
                  const view = snapshot.get(t.id);
                  return view ? summarize(view) : `${t.id}: not in the last task list`;
                });
                const byState = new Map<string, number>();
                for (const t of late) {
                  const state = snapshot.get(t.id)?.state ?? '(not listed)';
                  byState.set(state, (byState.get(state) ?? 0) + 1);
                }
                return (
                  `${late.length} of ${TOTAL} tasks not DONE ${SETTLE_MS} ms after the chaos ended (fed ${tracked.size}): ` +
                  `${JSON.stringify(Object.fromEntries(byState))}; e.g.\n${shown.join('\n')}`
                );
              },
            },
          );
          const settleMs = Date.now() - settleBegan;
          over = true;
          await Promise.all([supervisor, feeder]);
          failFast();

          // ---- nothing lost, nothing left, nothing DONE run again
          const ids = [...tracked.keys()];
          expect(new Set(ids).size).toBe(TOTAL);
          for (const [index] of c.masters.entries()) {
            const current = await pool.get<Page<TaskView>>('/tasks?limit=1000', 30_000, index);
            expect({ master: current.master, status: current.status, left: current.status === 200 ? current.body.items.map(summarize) : current.text }).toEqual({
              master: index,
              status: 200,
              left: [],
            });
            const archived = await pool.get<Page<TaskView>>('/archive/tasks?limit=1000', 30_000, index);
            expect({ master: archived.master, status: archived.status, nextCursor: archived.body.nextCursor }).toEqual({ master: index, status: 200, nextCursor: null });
            expect(archived.body.items.map((t) => t.id).sort()).toEqual([...ids].sort());
            const views = await mapLimit(archived.body.items, 8, async (item) => (await pool.get<TaskView>(`/tasks/${item.id}`, 30_000, index)).body);
            const wrong = views
              .filter((task) => {
                const t = tracked.get(task.id) as Tracked;
                const steps = t.kind === 'control' ? 1 : stepsOf.get(/Deploy (\S+)/.exec(task.description)?.[1] ?? '');
                return task.state !== 'DONE' || task.steps.length !== steps || task.steps.some((s) => s.state !== 'DONE') || task.attempt !== t.starts;
              })
              .map((task) => `${summarize(task)} (started ${tracked.get(task.id)?.starts} times by the test)`);
            expect(wrong).toEqual([]);
          }
          const finalViews = new Map(
            (await mapLimit(ids, 8, async (id) => (await pool.get<TaskView>(`/tasks/${id}`)).body)).map((t) => [t.id, t]),
          );

          const ledger = readLedgerLines(ledgerFile);
          const begins = new Map<string, number>();
          const dones = new Map<string, number>();
          for (const line of ledger) {
            const key = `${line.taskId} ${line.step}`;
            const map = line.kind === 'begin' ? begins : dones;
            map.set(key, (map.get(key) ?? 0) + 1);
          }
          const problems: string[] = [];
          const known = new Set<string>();
          let steps = 0;
          for (const t of tracked.values()) {
            for (const step of (finalViews.get(t.id) as TaskView).steps) {
              steps++;
              const key = `${t.id} ${step.path}`;
              known.add(key);
              const allowed = 1 + (t.interruptions.get(step.path) ?? 0);
              const [b, d] = [begins.get(key) ?? 0, dones.get(key) ?? 0];
              if (d < 1) problems.push(`${key}: DONE, but the ledger has no "done" line for it (begun ${b} times)`);
              // More runs than interruptions shown: a DONE step ran again, or an interrupted one was not shown FAILED.
              if (d > allowed) problems.push(`${key}: finished ${d} times, but seen interrupted (FAILED) only ${allowed - 1} times`);
              if (b > allowed) problems.push(`${key}: begun ${b} times, but seen interrupted (FAILED) only ${allowed - 1} times`);
            }
          }
          for (const key of new Set([...begins.keys(), ...dones.keys()])) {
            if (!known.has(key)) problems.push(`${key}: in the ledger, but no such step of a task of this test`);
          }
          const doneLines = ledger.filter((l) => l.kind === 'done');
          const execution = (l: { taskId: string; step: string; pid: number; startedAt: string }) => `${l.taskId} ${l.step} ${l.pid} ${l.startedAt}`;
          const begun = new Set(ledger.filter((l) => l.kind === 'begin').map(execution));
          const unmatched = doneLines.filter((d) => !begun.has(execution(d)));
          for (const d of unmatched) problems.push(`${d.taskId} ${d.step}: a "done" line of pid ${d.pid} without its "begin"`);
          expect(problems).toEqual([]);

          // ---- the chaos really happened
          expect(counts.workerKills).toBeGreaterThanOrEqual(MINIMUM.workerKills);
          expect(counts.masterKills).toBeGreaterThanOrEqual(MINIMUM.masterKills);
          expect(counts.brokerDrops).toBeGreaterThanOrEqual(MINIMUM.brokerDrops);
          expect(createdThrough.every((n) => n > 0) && startedThrough.every((n) => n > 0)).toBe(true);

          // ---- counts, from the workers' complete logs
          const exits = await Promise.all(workers.map((w) => w.kill('SIGTERM')));
          await Promise.all(workers.map((w) => w.logComplete()));
          const takeovers = workers.reduce((n, w) => n + w.logLines(TAKEOVER_LINE).length, 0);
          const duplicates = workers.reduce((n, w) => n + w.logLines(DUPLICATE_LINE).length, 0);
          const restartRecoveries = workers
            .flatMap((w) => w.logLines(RESTART_RECOVERY_LINE))
            .reduce((n, line) => n + (JSON.parse(/recovered=(\[[^\]]*\])/.exec(line)?.[1] ?? '[]') as string[]).length, 0);
          const errors = workers.flatMap((w) => w.logLines(ERROR_LINE).map((line) => `${w.name}: ${line}`));
          const masterLog = (m: { name: string }) => {
            const file = join(c.logDir, `${m.name}.log`);
            return existsSync(file) ? readFileSync(file, 'utf8').split('\n') : [];
          };
          const brokerWaits =
            workers.reduce((n, w) => n + w.logLines(BROKER_WAIT_LINE).length, 0) +
            c.masters.reduce((n, m) => n + masterLog(m).filter((l) => BROKER_WAIT_LINE.test(l)).length, 0);
          const interrupted = [...tracked.values()].reduce((n, t) => n + [...t.interruptions.values()].reduce((a, b) => a + b, 0), 0);
          const recoveredTasks = [...tracked.values()].filter((t) => t.interruptions.size > 0 || t.betweenSteps > 0).length;
          const queue = await (transport.queueState?.(c.queueName) ?? transport.queueCounts(c.queueName, c.amqpUrl)).catch((error: unknown) => String(error));
          const totalMs = Date.now() - began;
          console.info(
            [
              `chaos test (seed ${seed}) passed in ${(totalMs / 1000).toFixed(1)} s: setup ${(setupMs / 1000).toFixed(1)} s, ` +
                `chaos ${(chaosMs / 1000).toFixed(1)} s, settle ${(settleMs / 1000).toFixed(1)} s`,
              `tasks: ${tracked.size} (${CONTROL_TASKS} control, ${DEPLOYMENTS} deployments; ${steps} steps), all DONE; ` +
                `created through masters ${createdThrough.join('/')}, first started through ${startedThrough.join('/')}`,
              `worker kills: ${counts.workerKills} (${counts.longPauses} with a pause long enough for takeover), ` +
                `master kills: ${counts.masterKills}, broker drops: ${counts.brokerDrops} (${plural(counts.connectionsClosed, 'connection')} closed)`,
              `recoveries (tasks seen FAILED by interruption): ${restarts} on ${recoveredTasks} tasks ` +
                `(${interrupted} at an interrupted step, ${betweenSteps} between steps), each started again by the test`,
              `takeovers: ${takeovers}; tasks recovered by a restarted worker: ${restartRecoveries}; ` +
                `duplicate deliveries absorbed: ${duplicates}; starts unanswered but applied: ${startsUnanswered}`,
              `process starts that waited for the broker: ${brokerWaits}; worker log lines at level error: ${errors.length}${errors.length > 0 ? `, e.g.\n  ${errors.slice(0, 5).join('\n  ')}` : ''}`,
              `ledger: ${ledger.length} lines, ${doneLines.length} step executions finished for ${steps} steps ` +
                `(${doneLines.length - steps} re-run after an interruption)`,
              `workers' exits on SIGTERM at the end: ${JSON.stringify(exits)}; queue at the end: ${JSON.stringify(queue)}`,
              'faults:',
              log.text(),
            ].join('\n'),
          );
          passed = true;
        } catch (error) {
          over = true;
          keepDir = mkdtempSync(join(tmpdir(), 'shipdeck-chaos-logs-'));
          const context =
            `\n\nseed ${seed} (CHAOS_SEED=${seed} replays the data and the driver's draws); logs of every process, the ledger and the fault log ` +
            `are kept in ${keepDir}\nfaults so far:\n${actions?.text() ?? '(none)'}\n${c.describe(30)}`;
          if (error instanceof Error) {
            error.message += context;
            throw error;
          }
          throw new Error(`${String(error)}${context}`);
        }
      },
      TEST_TIMEOUT_MS,
    );
  },
);

/**
 * Cluster mode end to end (spec §2–§5, issues 3 and 11): real `shipdeck master` and `shipdeck worker`
 * processes sharing a PostgreSQL schema and a broker queue of their own, driven through the REST
 * API of every master. Steps of the ledger test plugin (test/fixtures/plugins/ledger) append
 * `<taskId> <stepPath> <pid>` to a ledger file, which shows that each step ran exactly once and
 * in which worker process. The 2-masters-3-workers cluster runs on every transport of
 * test/queue/transports.ts (RabbitMQ over AMQP 1.0, Artemis over AMQP 1.0 and over STOMP;
 * SHIPDECK_TEST_TRANSPORTS picks some), the other clusters on RabbitMQ.
 *
 * Needs PostgreSQL, RabbitMQ with its AMQP 1.0 plugin (SHIPDECK_TEST_DATABASE_URL,
 * SHIPDECK_TEST_AMQP_URL; local defaults), rabbitmqctl for that broker, and Artemis
 * (`artemis-broker/start-local`, or SHIPDECK_TEST_ARTEMIS_*_URL); fails saying what to start
 * when they are missing.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeConfigHash } from '@shipdeck/config';
import { SignedTaskQueue, TASK_MESSAGE_VERSION, TaskMessage, TaskQueue, createAmqpTaskQueue, openTaskQueue } from '@shipdeck/queue';
import type { ServerInfo } from '@shipdeck/master-services';
import type { ShownTaskState, TaskView } from '@shipdeck/tasks';
import { Cluster, requireClusterPrerequisites, startCluster, withClusterOutput as withCluster } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { TEST_CLUSTER_SECRET } from '../support/credentials';
import { LEDGER_PLUGIN_DIR, readLedger, readLedgerLines } from '../support/ledger';
import { mapLimit } from '../support/map-limit';
import { StandaloneMaster, startMaster } from '../support/master-process';
import { holdsFor, pollUntil, withDeadline } from '../support/poll';
import { isProcessAlive, killTrackedProcesses, trackProcesses, waitForPidFile, waitForProcessesGone } from '../support/processes';
import { createControl, createDeployment, getTask, importPackage, listTasks, startTask } from '../support/rest-actions';
import { Api, api, expectStatus, stepOf, summarize, waitForTask } from '../support/rest-client';
import { TEST_AMQP_URL, databaseUrlWithSchema, deleteQueue, dropSchema } from '../support/services';
import { freePort, makeHome } from '../support/shipdeck-process';
import { WorkerProcess, startWorker } from '../support/worker-process';
import { selectedTransports } from '../queue/transports';

const RESTING: readonly ShownTaskState[] = ['EXECUTED', 'FAILED', 'STOPPED', 'ABORTED', 'CANCELLED', 'DONE'];

/** The lines of a file some `cmd.Command` steps append to. */
function lines(file: string): string[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/**
 * Polls `GET /tasks` on `client` until every task of `ids` is in one of `states`; fails early
 * when one rests in another state, and at the deadline with the count per state.
 */
async function waitForAll(client: Api, ids: string[], states: ShownTaskState[], timeoutMs: number): Promise<Map<string, TaskView>> {
  let seen = new Map<string, TaskView>();
  const progress = () => {
    const byState = new Map<string, number>();
    for (const id of ids) {
      const state = seen.get(id)?.state ?? '(missing)';
      byState.set(state, (byState.get(state) ?? 0) + 1);
    }
    const late = ids.map((id) => seen.get(id)).filter((t): t is TaskView => t !== undefined && !states.includes(t.state));
    return `${JSON.stringify(Object.fromEntries(byState))}; e.g.\n${late.slice(0, 3).map(summarize).join('\n')}`;
  };
  await pollUntil(
    async () => {
      seen = await listTasks(client);
      const resting = ids.map((id) => seen.get(id)).filter((t): t is TaskView => !!t && !states.includes(t.state) && RESTING.includes(t.state));
      if (resting.length > 0) throw new Error(`waiting for ${states.join('/')}, but ${resting.length} task(s) rest elsewhere: ${progress()}`);
      return ids.every((id) => states.includes(seen.get(id)?.state as ShownTaskState));
    },
    { timeoutMs, intervalMs: 300, describe: () => `not every task reached ${states.join('/')} within ${timeoutMs} ms: ${progress()}` },
  );
  return seen;
}

/** The worker whose process wrote a ledger line, by pid. */
function workerByPid(workers: WorkerProcess[], pid: number): WorkerProcess | undefined {
  return workers.find((w) => w.pid === pid);
}

const silentLogger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

beforeAll(requireClusterPrerequisites, 120_000);

afterAll(() => killTrackedProcesses());

describe.each(selectedTransports().map((transport) => [transport.name, transport] as const))('a cluster of 2 masters and 3 workers on %s', (_, transport) => {
  let a: Api;
  let b: Api;
  const shared = useCluster(
    () => ({ masters: 2, workers: 3, env: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '4' }, ...transport.clusterOptions() }),
    async (cluster) => {
      [a, b] = cluster.clients;
    },
  );
  const { scenario } = shared;

  scenario(
    '1. 200 control tasks and 20 deployments through both masters: each step executed exactly once, spread over all workers',
    async () => {
      const c = shared.cluster;
      const clients = [a, b];
      const ledger = join(c.sandbox, 'ledger-1.txt');
      expectStatus(await a.put('/hosts/ledger-1', { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
      await importPackage(b, {
        application: 'ledger-app',
        version: '1.0.0',
        deployables: [
          { name: 'first', type: 'test.Ledger', order: 10, ledgerFile: ledger, sleepMs: 10 },
          { name: 'second', type: 'test.Ledger', order: 20, ledgerFile: ledger, sleepMs: 10 },
        ],
      });
      const environments = Array.from({ length: 20 }, (_, i) => `env-${String(i + 1).padStart(2, '0')}`);
      await mapLimit(environments, 4, async (name, i) =>
        expectStatus(await clients[i % 2].put(`/environments/${name}`, { hosts: ['ledger-1'], dictionary: {} }), 201),
      );

      // Every 11th job is a deployment: 200 control tasks and 20 deployments, interleaved.
      const jobs = Array.from({ length: 220 }, (_, i) =>
        i % 11 === 10 ? { kind: 'deployment' as const, environment: environments[(i - 10) / 11] } : { kind: 'control' as const },
      );
      expect(jobs.filter((j) => j.kind === 'deployment')).toHaveLength(20);
      const started = Date.now();
      const created = await mapLimit(jobs, 8, async (job, i) => {
        // Created through one master, started through the other.
        const [creator, starter] = [clients[i % 2], clients[(i + 1) % 2]];
        const id =
          job.kind === 'control'
            ? await createControl(creator, 'ledger-1', { sleepMs: 20 })
            : await createDeployment(creator, 'ledger-app', '1.0.0', job.environment);
        const queued = await startTask(starter, id);
        if (job.kind === 'deployment') expect({ id, kind: queued.kind }).toEqual({ id, kind: 'INITIAL' });
        return { id, kind: job.kind };
      });
      const ids = created.map((t) => t.id);
      expect(new Set(ids).size).toBe(220);
      const createdMs = Date.now() - started;

      const views = await waitForAll(a, ids, ['EXECUTED'], 120_000);
      const executedMs = Date.now() - started;

      // Exactly one ledger line per (task, step), nothing else.
      const expected = new Set<string>();
      for (const { id, kind } of created) {
        expect(views.get(id)?.state).toBe('EXECUTED');
        // List items carry no steps (spec §6); the task's own view has them.
        const task = await getTask(a, id);
        expect({ id, steps: task.steps.length }).toEqual({ id, steps: kind === 'control' ? 1 : 2 });
        for (const step of task.steps) {
          expect({ id, step: step.path, state: step.state }).toEqual({ id, step: step.path, state: 'DONE' });
          expected.add(`${id} ${step.path}`);
        }
      }
      expect(expected.size).toBe(240);
      const ledgerLines = readLedger(ledger);
      const counts = new Map<string, number>();
      for (const l of ledgerLines) counts.set(`${l.taskId} ${l.step}`, (counts.get(`${l.taskId} ${l.step}`) ?? 0) + 1);
      const executedTwice = [...counts].filter(([, n]) => n > 1).map(([key, n]) => `${key} ×${n}`);
      const unexpected = [...counts.keys()].filter((key) => !expected.has(key));
      const missing = [...expected].filter((key) => !counts.has(key));
      expect({ executedTwice, unexpected, missing: missing.slice(0, 10) }).toEqual({ executedTwice: [], unexpected: [], missing: [] });
      expect(ledgerLines).toHaveLength(240);

      // Spread: every worker process executed steps, and no other process did.
      const byNumber = (x: number, y: number) => x - y;
      const workerPids = c.workers.map((w) => w.pid).sort(byNumber);
      const perPid = new Map<number, number>();
      for (const l of ledgerLines) perPid.set(l.pid, (perPid.get(l.pid) ?? 0) + 1);
      expect({ pids: [...perPid.keys()].sort(byNumber), perPid: Object.fromEntries(perPid) }).toEqual({
        pids: workerPids,
        perPid: expect.any(Object),
      });

      // Both masters show the same state and worker; the worker named is the process that wrote the lines.
      const [fromA, fromB] = [await listTasks(a), await listTasks(b)];
      const disagreements = ids
        .map((id) => ({ id, a: fromA.get(id), b: fromB.get(id) }))
        .filter((t) => t.a?.state !== t.b?.state || t.a?.worker !== t.b?.worker)
        .map((t) => `${t.id}: A ${t.a?.state}/${t.a?.worker} B ${t.b?.state}/${t.b?.worker}`);
      expect(disagreements).toEqual([]);
      const wrongWorker = ledgerLines
        .filter((l) => fromA.get(l.taskId)?.worker !== workerByPid(c.workers, l.pid)?.id)
        .map((l) => `${l.taskId} ${l.step}: ledger pid ${l.pid} (${workerByPid(c.workers, l.pid)?.id}), view ${fromA.get(l.taskId)?.worker}`);
      expect(wrongWorker).toEqual([]);

      console.info(
        `scenario 1: 220 tasks created and started in ${createdMs} ms, all EXECUTED after ${executedMs} ms; ` +
          `steps per worker pid ${JSON.stringify(Object.fromEntries(perPid))}`,
      );
    },
    180_000,
  );

  scenario('3. the same task message published twice, before and after execution: executed once', async () => {
    const c = shared.cluster;
    const ledger = join(c.sandbox, 'ledger-3.txt');
    expectStatus(await a.put('/hosts/ledger-3', { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
    const infoA = expectStatus(await a.get<ServerInfo>('/server/info'), 200);
    const infoB = expectStatus(await b.get<ServerInfo>('/server/info'), 200);
    expect(infoA).toMatchObject({ inProcessWorker: false, configHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(infoB.configHash).toBe(infoA.configHash);
    expect(computeConfigHash(c.home)).toBe(infoA.configHash);

    // Signed with the cluster secret, as a master signs: the duplicates reach the claim.
    const publisher: TaskQueue = new SignedTaskQueue(
      transport.protocol === 'amqp'
        ? await createAmqpTaskQueue({
            url: c.amqpUrl,
            queueName: c.queueName,
            dialect: 'auto',
            logger: silentLogger,
            // close() leaves rhea's idle timers (2 × idleTimeoutMs) running, which keeps Jest from
            // exiting; a short idle timeout bounds that (see the report on libs/queue's closeWire).
            idleTimeoutMs: 5_000,
          })
        : await openTaskQueue({ url: c.amqpUrl, name: c.queueName, dialect: 'auto', logger: silentLogger }),
      { secret: TEST_CLUSTER_SECRET, logger: silentLogger },
    );
    try {
      const duplicate = (taskId: string): TaskMessage => ({
        version: TASK_MESSAGE_VERSION,
        taskId,
        taskType: 'CONTROL',
        configHash: infoA.configHash,
        publishedBy: 'test-duplicate-publisher',
        publishedAt: new Date().toISOString(),
      });
      // The step sleeps long enough for the duplicate to arrive while the task is queued or executing.
      const id = await createControl(a, 'ledger-3', { sleepMs: 1500 });
      await startTask(b, id);
      await publisher.publish(duplicate(id));
      const meanwhile = await getTask(a, id);
      expect(['QUEUED', 'EXECUTING']).toContain(meanwhile.state);

      const executed = await waitForTask(c.masters[0].url, id, ['EXECUTED'], 20_000);
      await publisher.publish(duplicate(id));
      await publisher.publish(duplicate(id));

      // Every message was delivered and settled: the workers had their say on each duplicate.
      // No connection is cut here, so none of Artemis's STOMP orphans (transports.ts
      // `orphanedDeliveries`) may be left either.
      let counts = { ready: -1, unacked: -1 };
      await pollUntil(
        async () => {
          counts = await transport.queueCounts(c.queueName, c.amqpUrl);
          return counts.ready === 0 && counts.unacked === 0;
        },
        { timeoutMs: 30_000, intervalMs: 200, describe: () => `queue ${c.queueName} not settled: ${JSON.stringify(counts)}` },
      );
      let now: TaskView | undefined;
      await holdsFor(
        async () => readLedger(ledger).length === 1 && (now = await getTask(b, id)).state === 'EXECUTED',
        1_000,
        () => `a duplicate ran the task again: ledger ${JSON.stringify(readLedgerLines(ledger))}, task ${now && summarize(now)}`,
      );
      const ledgerLines = readLedger(ledger);
      expect(ledgerLines.map((l) => `${l.taskId} ${l.step}`)).toEqual([`${id} ${executed.steps[0].path}`]);
      expect(workerByPid(c.workers, ledgerLines[0].pid)?.id).toBe(executed.worker);
      expect((await getTask(b, id)).attempt).toBe(executed.attempt);
    } finally {
      await publisher.close();
    }
  });

  scenario('6a. abort in cluster mode: started through master A, aborted through master B', async () => {
    const c = shared.cluster;
    const pidFile = join(c.sandbox, 'sleeper-6a.pid');
    expectStatus(await a.put('/hosts/local-6', { type: 'local' }), 201);
    expectStatus(await b.put('/environments/env-6', { hosts: ['local-6'], dictionary: {} }), 201);
    await importPackage(a, {
      application: 'sleeper',
      version: '1.0.0',
      // The shell writes its own pid and the sleep's, then waits for the sleep.
      deployables: [{ name: 'nap', type: 'cmd.Command', create: `sleep 300 & echo "$$ $!" > ${pidFile}; wait` }],
    });
    const id = await createDeployment(a, 'sleeper', '1.0.0', 'env-6');
    await startTask(a, id);
    const pids = await waitForPidFile(pidFile, 2);
    trackProcesses(pids);
    const executing = await waitForTask(c.masters[1].url, id, ['EXECUTING']);
    expect(c.workers.map((w) => w.id)).toContain(executing.worker);
    expect(pids.filter(isProcessAlive)).toEqual(pids);

    const aborting = expectStatus(await b.post<TaskView>(`/tasks/${id}/abort`), 200);
    expect(['ABORTING', 'ABORTED']).toContain(aborting.state);
    const aborted = await waitForTask(c.masters[0].url, id, ['ABORTED'], 20_000);
    expect(stepOf(aborted, 'nap').state).toBe('FAILED');
    await waitForProcessesGone(pids, 10_000);
    const fromB = await getTask(b, id);
    expect({ state: fromB.state, worker: fromB.worker, steps: fromB.steps }).toEqual({
      state: aborted.state,
      worker: aborted.worker,
      steps: aborted.steps,
    });
  });

  scenario('6b. stop in cluster mode: the current step finishes, the next one does not start; start continues', async () => {
    const c = shared.cluster;
    const ledger = join(c.sandbox, 'ledger-6b.txt');
    const startedFile = join(c.sandbox, 'stopper-6b.started');
    const releaseFile = join(c.sandbox, 'stopper-6b.release');
    expectStatus(await a.put('/hosts/local-6b', { type: 'local' }), 201);
    expectStatus(await b.put('/environments/env-6b', { hosts: ['local-6b'], dictionary: {} }), 201);
    await importPackage(b, {
      application: 'stopper',
      version: '1.0.0',
      deployables: [
        {
          name: 'held',
          type: 'cmd.Command',
          order: 10,
          // Runs until the test releases it (at most 60 s).
          create: `touch ${startedFile}; i=0; while [ ! -f ${releaseFile} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; echo held >> ${ledger}`,
        },
        { name: 'after', type: 'cmd.Command', order: 20, create: `echo after >> ${ledger}` },
      ],
    });
    const id = await createDeployment(b, 'stopper', '1.0.0', 'env-6b');
    await startTask(b, id);
    await pollUntil(() => existsSync(startedFile), { timeoutMs: 20_000, describe: () => `step "held" of ${id} never started` });
    await waitForTask(c.masters[0].url, id, ['EXECUTING']);

    const stopping = expectStatus(await a.post<TaskView>(`/tasks/${id}/stop`), 200);
    expect(stopping.state).toBe('STOPPING');
    expect((await getTask(b, id)).state).toBe('STOPPING');
    writeFileSync(releaseFile, '');
    const stopped = await waitForTask(c.masters[1].url, id, ['STOPPED'], 20_000);
    expect(stopped.steps.map((s) => s.state)).toEqual(['DONE', 'PENDING']);
    expect(lines(ledger)).toEqual(['held']);

    await startTask(a, id);
    const executed = await waitForTask(c.masters[1].url, id, ['EXECUTED'], 20_000);
    expect(executed.steps.map((s) => s.state)).toEqual(['DONE', 'DONE']);
    expect(lines(ledger)).toEqual(['held', 'after']);
  });

  scenario('7. step logs and states written by workers are visible through every master', async () => {
    const c = shared.cluster;
    const ledger = join(c.sandbox, 'ledger-7.txt');
    const marker = `marker-${randomUUID()}`;
    expectStatus(await a.put('/hosts/ledger-7', { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
    expectStatus(await b.put('/environments/env-7', { hosts: ['ledger-7'], dictionary: {} }), 201);
    await importPackage(a, {
      application: 'logger-app',
      version: '1.0.0',
      deployables: [
        { name: 'say', type: 'cmd.Command', order: 10, create: `echo "${marker} from $$"` },
        { name: 'note', type: 'test.Ledger', order: 20, ledgerFile: ledger },
      ],
    });
    const id = await createDeployment(a, 'logger-app', '1.0.0', 'env-7');
    await startTask(b, id);
    const executed = await waitForTask(c.masters[0].url, id, ['EXECUTED'], 20_000);
    expect(executed.steps).toHaveLength(2);

    const viewA = await getTask(a, id);
    const viewB = await getTask(b, id);
    expect(viewB).toEqual(viewA);
    expect(viewA.steps.every((s) => s.state === 'DONE')).toBe(true);

    for (const step of viewA.steps) {
      const logA = await a.get<string>(`/tasks/${id}/steps/${step.path}/log`);
      const logB = await b.get<string>(`/tasks/${id}/steps/${step.path}/log`);
      expect({ step: step.path, status: logA.status }).toEqual({ step: step.path, status: 200 });
      expect({ step: step.path, status: logB.status }).toEqual({ step: step.path, status: 200 });
      expect(logA.headers.get('content-type')).toMatch(/^text\/plain/);
      expect({ step: step.path, log: logB.text }).toEqual({ step: step.path, log: logA.text });
      expect(logA.text.trim().length).toBeGreaterThan(0);
    }
    const say = stepOf(viewA, 'say');
    const note = stepOf(viewA, 'note');
    expect((await b.get<string>(`/tasks/${id}/steps/${say.path}/log`)).text).toContain(marker);
    const [line] = readLedger(ledger);
    expect((await a.get<string>(`/tasks/${id}/steps/${note.path}/log`)).text).toContain(`${id} ${note.path} ${line.pid}`);
  });
});

// 2. A worker killed while holding delivered-but-unclaimed messages loses none: proved in-process
// by libs/worker-runtime/src/lib/worker-runtime.spec.ts, with the claims held back by a store wrapper.

describe('4. a worker whose plugins/ differs from the masters', () => {
  let cluster: Cluster | undefined;

  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it(
    'executes nothing, says why (every live master has another configuration) and exits 0; a compatible worker executes the task',
    withCluster(
      () => cluster,
      async () => {
        cluster = await startCluster({ masters: 1, workers: 0 });
        const c = cluster;
        const client = api(c.masters[0].url);
        const odd = c.cloneHome();
        // A valid plugin: the loader refuses one that declares neither ciTypes nor hostTypes.
        writeFileSync(join(odd, 'plugins', 'extra.js'), "'use strict';\nexports.plugin = { name: 'extra', ciTypes: [] };\n");
        const info = expectStatus(await client.get<ServerInfo>('/server/info'), 200);
        expect(computeConfigHash(c.home)).toBe(info.configHash);
        expect(computeConfigHash(odd)).not.toBe(info.configHash);

        const mismatched = await c.addWorker({ name: 'mismatched', home: odd });
        const ledger = join(c.sandbox, 'ledger-4.txt');
        expectStatus(await client.put('/hosts/ledger-4', { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
        const id = await createControl(client, 'ledger-4');
        await startTask(client, id);

        const exit = await withDeadline(mismatched.exited, 30_000, 'the mismatched worker did not exit');
        expect({ exit, output: mismatched.output() }).toEqual({ exit: { code: 0, signal: null }, output: expect.stringContaining('configuration mismatch') });
        // Spec §3 (issue 17): it drains because every live master differs, not because of a message.
        expect(mismatched.output()).toMatch(/differs from that of every live master/);
        expect(mismatched.output()).not.toContain('claimed task');
        expect(readLedgerLines(ledger)).toEqual([]);
        const handedBack = await getTask(client, id);
        expect({ state: handedBack.state, worker: handedBack.worker }).toEqual({ state: 'QUEUED', worker: null });

        const compatible = await c.addWorker({ name: 'compatible' });
        const executed = await waitForTask(c.masters[0].url, id, ['EXECUTED'], 20_000);
        expect(executed.worker).toBe(compatible.id);
        expect(readLedger(ledger)).toEqual([{ taskId: id, step: executed.steps[0].path, pid: compatible.pid }]);
        expect(compatible.status).toBeUndefined();
      },
    ),
    90_000,
  );
});

describe('5. a worker pointed at a master that runs its in-process worker', () => {
  let master: StandaloneMaster | undefined;
  let root: string | undefined;
  const schema = `refused_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const queueName = `test-${randomUUID()}`;

  afterAll(async () => {
    await master?.cleanup();
    await dropSchema(schema).catch(() => undefined);
    await deleteQueue(queueName).catch(() => undefined);
    if (root && !process.env.SHIPDECK_E2E_KEEP) rmSync(root, { recursive: true, force: true });
  }, 60_000);

  it('is refused with a clear message and a non-zero exit', async () => {
    master = await startMaster();
    const info = expectStatus(await api(master.url).get<ServerInfo>('/server/info'), 200);
    expect(info.inProcessWorker).toBe(true);
    root = mkdtempSync(join(tmpdir(), 'shipdeck-refused-'));
    const home = makeHome(root, [LEDGER_PLUGIN_DIR]);
    const worker = await startWorker({
      home,
      api: master.url,
      // The embedded master opens no command channel: nobody listens there.
      masters: [`localhost:${await freePort()}`],
      name: 'refused',
      workDir: join(root, 'work'),
      env: {
        SHIPDECK_HOME: home,
        SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
        SHIPDECK_DB_URL: databaseUrlWithSchema(schema),
        SHIPDECK_TASK_QUEUE_URL: TEST_AMQP_URL,
        SHIPDECK_TASK_QUEUE_NAME: queueName,
      },
      wait: 'spawned',
    });
    const exit = await withDeadline(worker.exited, 20_000, `the worker was not refused:\n${worker.output()}`);
    const output = worker.output();
    const report = `exit ${JSON.stringify(exit)}\n${output}`;
    expect({ signal: exit.signal, refused: exit.code !== null && exit.code !== 0, report }).toEqual({ signal: null, refused: true, report });
    expect(output).toContain(master.url);
    expect(output).toMatch(/task\.inProcessWorker: true/);
    expect(output).toMatch(/refuses external workers/);
    expect(output).not.toMatch(/^\s+at /m);
    expect(output).not.toMatch(/Shipdeck worker \S+ started/);
  }, 60_000);
});

/**
 * Recovery files and restart recovery (spec §5, issue 5): real `shipdeck master` and `shipdeck
 * worker` processes on a PostgreSQL schema and a RabbitMQ queue of their own. The worker is
 * SIGKILLed at random points and restarted on the same work directory; steps of the ledger test
 * plugin append `<taskId> <stepPath> <pid>` to a ledger file, which shows what ran, and where.
 *
 * Needs PostgreSQL and RabbitMQ with its AMQP 1.0 plugin (see test/support/cluster.ts).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskView } from '@shipdeck/tasks';
import type { RecoveryFile } from '@shipdeck/worker-runtime';
import { useCluster } from '../support/cluster-tests';
import { ledgerCounts, readLedger } from '../support/ledger';
import { pollUntil } from '../support/poll';
import { planSteps, quarantined, readRecoveryFile, recoveryFilePath, stepStates } from '../support/recovery-files';
import { createControl, createDeployment, getTask, importLedgerPackage, importPackage, putEnvironment, putLedgerHost, startTask } from '../support/rest-actions';
import { Api, expectStatus, waitForTask } from '../support/rest-client';
import { FAST_LEASE_ENV } from '../support/timings';
import type { WorkerProcess } from '../support/worker-process';
import { workerHealth } from '../support/workers-api';

/** Short intervals, so that every wait in this file is a few seconds at most. */
const FAST = {
  ...FAST_LEASE_ENV,
  SHIPDECK_TASK_MAX_ACTIVE_TASKS: '3',
};
/** Polls a task's recovery file until it shows `state`; answers it. */
async function recoveryFileIn(workDir: string, taskId: string, state: string): Promise<RecoveryFile> {
  let file: RecoveryFile | undefined;
  await pollUntil(() => (file = readRecoveryFile(workDir, taskId))?.task.state === state, {
    timeoutMs: 5_000,
    intervalMs: 20,
    describe: () => `${recoveryFilePath(workDir, taskId)} does not show ${state}: ${JSON.stringify(file?.task.state)}`,
  });
  return file as RecoveryFile;
}

/** A random integer in [min, max]. */
function randomBetween(min: number, max: number): number {
  return min + Math.floor(Math.random() * (max - min + 1));
}

/** A worker forgets archived and cancelled tasks (and removes their files) every 5 s. */
const HOUSEKEEPING_MS = 5_000;

let a: Api;
let b: Api;
/** The one worker, replaced by its next process at each restart. */
let worker: WorkerProcess;

const shared = useCluster({ masters: 2, workers: 1, env: FAST }, async (rc) => {
  [a, b] = rc.clients;
  worker = rc.workers[0];
});

/** Each scenario starts with the worker running, whatever happened to it in the one before. */
const scenario = (name: string, body: () => Promise<void>, timeoutMs = 60_000) =>
  shared.scenario(
    name,
    async (rc) => {
      if (worker.status !== undefined) worker = await rc.restartWorker(worker);
      await body();
    },
    timeoutMs,
  );

scenario('1. recovery files: the plan with the current step EXECUTING while a task runs; removed after archive, and after cancel of a FAILED task', async () => {
  const c = shared.cluster;
  const ledger = join(c.sandbox, 'ledger-1.txt');
  await putLedgerHost(a, 'ledger-1', ledger);
  expectStatus(await a.put('/hosts/local-1', { type: 'local' }), 201);
  await putEnvironment(b, 'env-1', ['ledger-1']);
  await putEnvironment(b, 'env-1-fail', ['local-1']);
  await importLedgerPackage(a, 'files-app', ledger, [900, 900, 900]);
  await importPackage(a, {
    application: 'failing-app',
    version: '1.0.0',
    deployables: [{ name: 'boom', type: 'cmd.Command', create: 'echo failing on purpose; exit 3' }],
  });

  const id = await createDeployment(a, 'files-app', '1.0.0', 'env-1');
  await startTask(b, id);
  const file = recoveryFilePath(worker.workDir, id);
  // Alongside: a task that fails at once (its file is removed once it is cancelled, checked below).
  const failing = await createDeployment(b, 'failing-app', '1.0.0', 'env-1-fail');
  await startTask(a, failing);

  // Each step in turn is the executing one in the file: the ones before DONE, the ones after PENDING.
  const seen: string[][] = [];
  for (let current = 0; current < 3; current++) {
    let last: RecoveryFile | undefined;
    await pollUntil(
      () => {
        last = readRecoveryFile(worker.workDir, id);
        const states = last ? planSteps(last.task.plan).map((s) => s.state) : [];
        return states.length === 3 && states[current] === 'EXECUTING';
      },
      { timeoutMs: 10_000, intervalMs: 20, describe: () => `${file} never showed step ${current + 1} EXECUTING; last: ${JSON.stringify(last)}` },
    );
    const content = last as RecoveryFile;
    expect({ format: content.format, version: content.version, workerId: content.workerId }).toEqual({
      format: 'shipdeck-task-recovery',
      version: 1,
      workerId: worker.id,
    });
    expect({ id: content.task.id, state: content.task.state, owner: content.task.workerId }).toEqual({ id, state: 'EXECUTING', owner: worker.id });
    const states = planSteps(content.task.plan).map((s) => s.state);
    expect(states).toEqual(states.map((_, i) => (i < current ? 'DONE' : i === current ? 'EXECUTING' : 'PENDING')));
    seen.push(states);
  }

  const executed = await waitForTask(a, id, ['EXECUTED'], 15_000, true);
  expect(executed.steps.map((s) => s.state)).toEqual(['DONE', 'DONE', 'DONE']);
  // Kept, with the final state, until the task is archived. The worker records the end in the
  // database first and in the file right after: the file may lag the REST view for a moment.
  const final = await recoveryFileIn(worker.workDir, id, 'EXECUTED');
  expect({ state: final?.task.state, steps: final && stepStates(final.task.plan) }).toEqual({
    state: 'EXECUTED',
    steps: executed.steps.map((s) => `${s.path}:DONE`),
  });
  expect(expectStatus(await b.post<TaskView>(`/tasks/${id}/archive`), 200, 'archive: ').state).toBe('DONE');
  const archivedAt = Date.now();

  // A FAILED task keeps its file until it is cancelled.
  const failed = await waitForTask(b, failing, ['FAILED'], 15_000, true);
  expect(failed.steps.map((s) => s.state)).toEqual(['FAILED']);
  const failedFile = await recoveryFileIn(worker.workDir, failing, 'FAILED');
  expect({ state: failedFile?.task.state, steps: failedFile && stepStates(failedFile.task.plan) }).toEqual({
    state: 'FAILED',
    steps: [`${failed.steps[0].path}:FAILED`],
  });
  expect(['CANCELLING', 'CANCELLED']).toContain(expectStatus(await a.post<TaskView>(`/tasks/${failing}/cancel`), 200, 'cancel: ').state);
  const cancelledAt = Date.now();
  await pollUntil(() => readRecoveryFile(worker.workDir, failing) === undefined, {
    timeoutMs: HOUSEKEEPING_MS * 3,
    describe: () => `${recoveryFilePath(worker.workDir, failing)} still exists ${Date.now() - cancelledAt} ms after cancel`,
  });
  const removedAfterCancelMs = Date.now() - cancelledAt;
  await pollUntil(() => readRecoveryFile(worker.workDir, id) === undefined, {
    timeoutMs: HOUSEKEEPING_MS * 3,
    describe: () => `${file} still exists ${Date.now() - archivedAt} ms after the task was archived`,
  });
  const removedAfterArchiveMs = Date.now() - archivedAt;
  console.info(
    `scenario 1: file states seen ${JSON.stringify(seen)}; removed ${removedAfterArchiveMs} ms after archive, ` +
      `${removedAfterCancelMs} ms after cancel`,
  );
});

scenario(
  '2. restart recovery after SIGKILL at random points: the interrupted step FAILED, DONE steps stay DONE, start continues',
  async () => {
    const r = shared.cluster;
    const ledger = join(r.sandbox, 'ledger-2.txt');
    const sleeps = [1000, 1200, 1000, 1100];
    const runMs = sleeps.reduce((x, y) => x + y, 0);
    await putLedgerHost(a, 'ledger-2', ledger);
    await importLedgerPackage(b, 'restart-app', ledger, sleeps);
    // Random points of the run; the last one may fall after the last step (then the task is EXECUTED).
    const fixed = process.env.SHIPDECK_TEST_KILL_DELAYS?.split(',').map(Number);
    const delays = fixed ?? [randomBetween(150, runMs), randomBetween(150, runMs), randomBetween(150, runMs + 400)];
    console.info(`scenario 2: SIGKILL delays after EXECUTING (ms): ${delays.join(', ')} (SHIPDECK_TEST_KILL_DELAYS=${delays.join(',')} repeats them)`);
    const outcomes: string[] = [];

    for (const [round, delay] of delays.entries()) {
      const env = `env-2-${round + 1}`;
      await putEnvironment(a, env, ['ledger-2']);
      const id = await createDeployment(a, 'restart-app', '1.0.0', env);
      await startTask(b, id);
      await waitForTask(a, id, ['EXECUTING'], 15_000, true);
      const executingAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, executingAt + delay - Date.now())));

      const { killed } = await killAndRestartAfter(() => readRecoveryFile(worker.workDir, id));
      const atDeath = killed.file;
      if (!atDeath) throw new Error(`round ${round + 1}: no recovery file of ${id} when the worker was killed`);
      const ledgerAtDeath = ledgerCounts(readLedger(ledger), id);
      const stepsAtDeath = planSteps(atDeath.task.plan);
      const interrupted = stepsAtDeath.filter((s) => s.state === 'EXECUTING').map((s) => s.path);
      expect(interrupted.length).toBeLessThanOrEqual(1);
      // What the file said is consistent with the ledger: DONE steps wrote their line, PENDING ones did not.
      for (const s of stepsAtDeath) {
        const count = ledgerAtDeath[s.path] ?? 0;
        const allowed = s.state === 'DONE' ? [1] : s.state === 'PENDING' ? [0] : [0, 1];
        expect({ round, step: s.path, state: s.state, allowed: allowed.includes(count) }).toEqual({ round, step: s.path, state: s.state, allowed: true });
      }

      // Recovered: exactly the interrupted step FAILED, or EXECUTED when every step was done.
      const allDone = stepsAtDeath.every((s) => s.state === 'DONE');
      const expectedSteps = stepsAtDeath.map((s) => `${s.path}:${s.state === 'EXECUTING' ? 'FAILED' : s.state}`);
      const recovered = await waitForTask(a, id, ['FAILED', 'EXECUTED'], 15_000, true);
      expect({ round, state: recovered.state, steps: recovered.steps.map((s) => `${s.path}:${s.state}`), worker: recovered.worker }).toEqual({
        round,
        state: allDone ? 'EXECUTED' : 'FAILED',
        steps: expectedSteps,
        worker: worker.id,
      });
      const viewB = await getTask(b, id);
      expect({ state: viewB.state, worker: viewB.worker, steps: viewB.steps }).toEqual({
        state: recovered.state,
        worker: recovered.worker,
        steps: recovered.steps,
      });
      const failedStep = recovered.steps.find((s) => s.state === 'FAILED');
      if (failedStep) expect(failedStep.failure).toMatch(/\S/);

      let final: TaskView = recovered;
      if (recovered.state === 'FAILED') {
        await startTask(b, id);
        final = await waitForTask(a, id, ['EXECUTED'], 15_000, true);
      }
      expect(final.steps.map((s) => s.state)).toEqual(sleeps.map(() => 'DONE'));

      // Every step DONE before the kill ran once; the interrupted one ran again (it may have run partly).
      const lines = readLedger(ledger).filter((l) => l.taskId === id);
      const counts = ledgerCounts(lines, id);
      const expectedCounts = Object.fromEntries(
        stepsAtDeath.map((s) => [s.path, s.state === 'EXECUTING' ? (ledgerAtDeath[s.path] ?? 0) + 1 : 1]),
      );
      expect({ round, counts }).toEqual({ round, counts: expectedCounts });
      for (const s of stepsAtDeath.filter((x) => x.state === 'DONE')) {
        expect({ round, step: s.path, pids: lines.filter((l) => l.step === s.path).map((l) => l.pid) }).toEqual({
          round,
          step: s.path,
          pids: [killed.pid],
        });
      }
      outcomes.push(
        `round ${round + 1}: killed ${delay} ms after EXECUTING (${interrupted[0] ? `step ${interrupted[0]} executing` : allDone ? 'after the last step' : 'between two steps'}, ` +
          `ledger before ${JSON.stringify(ledgerAtDeath)}) -> recovered ${recovered.state} [${recovered.steps.map((s) => s.state).join(' ')}] -> ledger ${JSON.stringify(counts)}`,
      );
    }
    console.info(`scenario 2:\n  ${outcomes.join('\n  ')}`);
  },
  120_000,
);

scenario('5. corrupt recovery files (truncated, not JSON, unknown version) are quarantined; the worker runs; the tasks are FAILED saying why', async () => {
  const r = shared.cluster;
  const ledger = join(r.sandbox, 'ledger-5.txt');
  await putLedgerHost(a, 'ledger-5', ledger);
  const ids = [await createControl(a, 'ledger-5', { sleepMs: 20_000 }), await createControl(a, 'ledger-5', { sleepMs: 20_000 }), await createControl(a, 'ledger-5', { sleepMs: 20_000 })];
  for (const id of ids) await startTask(b, id);
  // The step runs (the database says so, which the worker writes before the step begins) and the file exists.
  for (const id of ids) await waitForTask(a, id, (t) => t.state === 'EXECUTING' && t.steps[0].state === 'EXECUTING', 15_000, true);
  await pollUntil(() => ids.every((id) => readRecoveryFile(worker.workDir, id)?.task.state === 'EXECUTING'), {
    timeoutMs: 10_000,
    describe: () => `not every task has a recovery file in ${worker.workDir}`,
  });

  const killed = worker;
  expect(await killed.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  const [truncatedId, notJsonId, versionId] = ids;
  const original = readFileSync(recoveryFilePath(killed.workDir, truncatedId), 'utf8');
  const corrupt: Record<string, string> = {
    [truncatedId]: original.slice(0, Math.floor(original.length / 2)),
    [notJsonId]: 'this is not JSON\u0000\u00ff garbage\n',
    [versionId]: JSON.stringify({ ...(JSON.parse(readFileSync(recoveryFilePath(killed.workDir, versionId), 'utf8')) as object), version: 99 }),
  };
  for (const [id, content] of Object.entries(corrupt)) writeFileSync(recoveryFilePath(killed.workDir, id), content);

  worker = await r.restartWorker(killed);
  const health = await workerHealth(a, worker.id as string);
  expect(health).toMatchObject({ status: 'UP', workerId: killed.id });

  // Each bad file is in quarantine/, unchanged.
  const names = quarantined(worker.workDir);
  for (const id of ids) {
    const name = names.find((n) => n.startsWith(`${id}.task`));
    expect({ id, quarantined: name !== undefined }).toEqual({ id, quarantined: true });
    expect(readFileSync(join(worker.workDir, 'quarantine', name as string), 'utf8')).toBe(corrupt[id]);
  }
  // Each task FAILED with its interrupted step FAILED and a failure naming the recovery file.
  for (const id of ids) {
    const task = await waitForTask(b, id, ['FAILED'], 10_000, true);
    expect({ id, steps: task.steps.map((s) => s.state), failure: task.failure }).toEqual({
      id,
      steps: ['FAILED'],
      failure: expect.stringMatching(/recovery file/i),
    });
  }
  expect(worker.output()).toMatch(/recovery file/i);

  // And it executes new work.
  const fresh = await createControl(b, 'ledger-5');
  await startTask(a, fresh);
  const done = await waitForTask(a, fresh, ['EXECUTED'], 15_000, true);
  expect(done.worker).toBe(worker.id);
  expect(readLedger(ledger).filter((l) => l.taskId === fresh)).toEqual([{ taskId: fresh, step: done.steps[0].path, pid: worker.pid }]);
  expect(worker.status).toBeUndefined();
  const failures = await Promise.all(ids.map(async (id) => (await getTask(a, id)).failure));
  console.info(`scenario 5: quarantined ${JSON.stringify(names)}; failures: ${JSON.stringify(failures)}`);
});

/** SIGKILLs the worker, reads what `snapshot` sees right after its death, restarts it on its work directory. */
async function killAndRestartAfter(snapshot: () => RecoveryFile | undefined): Promise<{ killed: { pid: number; file: RecoveryFile | undefined } }> {
  const killed = worker;
  expect(await killed.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  const file = snapshot();
  worker = await shared.cluster.restartWorker(killed);
  expect(worker.id).toBe(killed.id);
  return { killed: { pid: killed.pid, file } };
}

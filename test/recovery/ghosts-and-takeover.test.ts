/**
 * Ghost tasks and takeover (spec §5, issue 5) with real processes: a worker is frozen with
 * SIGSTOP past the grace period (its tasks show UNKNOWN), then thawed with SIGCONT. With
 * `task.recovery.takeover: off` (the default) nobody touches its task; with `auto` another
 * worker adopts it from the database checkpoint, and the old owner must not touch it any more.
 * Steps of the ledger test plugin append `<taskId> <stepPath> <pid>` to a ledger file.
 *
 * Needs PostgreSQL and RabbitMQ with its AMQP 1.0 plugin (see test/support/cluster.ts).
 */
import type { TaskView } from '@shipdeck/tasks';
import { useCluster } from '../support/cluster-tests';
import { ledgerCounts, readLedger } from '../support/ledger';
import { LedgerScene, putLedgerScene } from '../support/ledger-scene';
import { holdsFor, pollUntil } from '../support/poll';
import { createControl, getTask, listTasks, outcomeOf, restoreGhostTasks, startTask } from '../support/rest-actions';
import { Api, expectStatus, waitForTask } from '../support/rest-client';
import { FAST_LEASE_ENV } from '../support/timings';
import type { WorkerProcess } from '../support/worker-process';

const TAKEOVER = { SHIPDECK_TASK_RECOVERY_TAKEOVER: 'auto', SHIPDECK_TASK_RECOVERY_TAKEOVER_AFTER: '2s' };
/** Lease (2 s) + takeoverAfter (2 s) + a takeover pass (every 500 ms): an adopter would have acted by then. */
const WOULD_HAVE_ADOPTED_MS = 5_500;

let client: Api;
let scene: LedgerScene;
let ledger: string;

// Takeover off (the default) for the first workers; scenario 4a replaces them.
const shared = useCluster({ masters: 1, workers: 2, env: FAST_LEASE_ENV }, async (rc) => {
  client = rc.clients[0];
  scene = await putLedgerScene(client, rc.sandbox, [1000, 1000, 1000, 1000]);
  ({ ledger } = scene);
});
const { scenario } = shared;

/** The running worker whose id is `id`. */
function workerWithId(id: string | null): WorkerProcess {
  const found = shared.cluster.workers.find((w) => w.id === id && w.status === undefined);
  if (!found) throw new Error(`no running worker has id ${id}`);
  return found;
}

scenario('3. ghost tasks: an UNKNOWN task removed from the monitor finishes on its worker and comes back with restore-ghost-tasks', async () => {
  const r = shared.cluster;
  const id = await createControl(client, 'ledger-1', { sleepMs: 6_000 });
  await startTask(client, id);
  const executing = await waitForTask(client, id, (t) => t.state === 'EXECUTING' && t.steps[0].state === 'EXECUTING', 15_000, true);
  const owner = workerWithId(executing.worker);

  // Only an UNKNOWN task can be removed: an executing one and a pending one cannot.
  const pending = await createControl(client, 'ledger-1');
  for (const other of [id, pending]) {
    const refused = await client.delete<{ error: { code: string } }>(`/tasks/${other}`);
    expect({ other, status: refused.status }).toEqual({ other, status: 409 });
  }
  expect((await getTask(client, pending)).state).toBe('PENDING');

  r.freeze(owner);
  const frozenAt = Date.now();
  await waitForTask(client, id, ['UNKNOWN'], 10_000, true);
  const unknownAfterMs = Date.now() - frozenAt;
  const removed = await client.delete(`/tasks/${id}`);
  expect({ status: removed.status, body: removed.text }).toEqual({ status: 204, body: '' });
  expect((await client.get(`/tasks/${id}`)).status).toBe(404);
  expect((await listTasks(client)).has(id)).toBe(false);
  expect(readLedger(ledger).filter((l) => l.taskId === id)).toEqual([]);

  r.thaw(owner);
  // It finishes on its worker, which keeps it as a ghost: the monitor still does not show it.
  await pollUntil(() => readLedger(ledger).some((l) => l.taskId === id), {
    timeoutMs: 15_000,
    describe: () => `the thawed worker never finished task ${id}`,
  });
  await owner.waitForOutput(new RegExp(`\\[task ${id}\\].*ghost task`), 10_000);
  expect(readLedger(ledger).filter((l) => l.taskId === id)).toEqual([{ taskId: id, step: executing.steps[0].path, pid: owner.pid }]);
  expect((await client.get(`/tasks/${id}`)).status).toBe(404);

  const restored = expectStatus(
    await client.post<{ tasks: string[]; workers: { id: string; ok: boolean; tasks: string[] }[] }>('/workers/restore-ghost-tasks'),
    200,
    'restore-ghost-tasks: ',
  );
  expect(restored.tasks).toEqual([id]);
  expect(restored.workers.find((w) => w.id === owner.id)).toMatchObject({ ok: true, tasks: [id] });
  expect(outcomeOf(await getTask(client, id))).toEqual({
    state: 'EXECUTED',
    worker: owner.id,
    steps: ['DONE'],
  });
  expect((await listTasks(client)).get(id)?.state).toBe('EXECUTED');
  // A second restore finds nothing more to restore.
  expect(await restoreGhostTasks(client)).toEqual([]);
  // Shown again, it is an ordinary task: it can be archived.
  expect(expectStatus(await client.post<TaskView>(`/tasks/${id}/archive`), 200, 'archive: ').state).toBe('DONE');
  console.info(`scenario 3: UNKNOWN ${unknownAfterMs} ms after SIGSTOP; restored ${JSON.stringify(restored.tasks)}`);
});

scenario('3b. a ghost task of a worker that crashed: restarted on its work directory, it restores the task FAILED at the interrupted step', async () => {
  const r = shared.cluster;
  const executing = await scene.deployUntilStep('env-3b', 2);
  const id = executing.id;
  const owner = workerWithId(executing.worker);
  r.freeze(owner);
  await waitForTask(client, id, ['UNKNOWN'], 10_000, true);
  const checkpoint = await getTask(client, id);
  expect(checkpoint.steps.map((s) => s.state)).toEqual(['DONE', 'EXECUTING', 'PENDING', 'PENDING']);
  // Frozen in step 2: before its line, or just after it (then step 2 has run, partly as far as anyone knows).
  const step2AtFreeze = ledgerCounts(readLedger(ledger), id)[checkpoint.steps[1].path] ?? 0;
  expect(step2AtFreeze).toBeLessThanOrEqual(1);
  expect((await client.delete(`/tasks/${id}`)).status).toBe(204);
  // It never comes back as it was: killed while frozen, then started again on its work directory.
  expect(await owner.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  const restarted = await r.restartWorker(owner);
  expect(restarted.id).toBe(owner.id);
  await restarted.waitForOutput(new RegExp(`\\[task ${id}\\].*ghost task`), 10_000);
  expect((await client.get(`/tasks/${id}`)).status).toBe(404);

  expect(await restoreGhostTasks(client)).toEqual([id]);
  expect(outcomeOf(await getTask(client, id))).toEqual({
    state: 'FAILED',
    worker: owner.id,
    steps: ['DONE', 'FAILED', 'PENDING', 'PENDING'],
  });
  await startTask(client, id);
  const executed = await waitForTask(client, id, ['EXECUTED'], 15_000, true);
  expect(executed.steps.map((s) => s.state)).toEqual(['DONE', 'DONE', 'DONE', 'DONE']);
  // DONE steps ran once; the interrupted step 2 ran again.
  expect(ledgerCounts(readLedger(ledger), id)).toEqual(
    Object.fromEntries(executed.steps.map((s, i) => [s.path, i === 1 ? step2AtFreeze + 1 : 1])),
  );
});

scenario('4b. takeover off (default): a frozen owner keeps its task; thawed, it completes it', async () => {
  const r = shared.cluster;
  const executing = await scene.deployUntilStep('env-4b', 2);
  const id = executing.id;
  const owner = workerWithId(executing.worker);
  const other = r.workers.find((w) => w !== owner && w.status === undefined) as WorkerProcess;
  expect(other).toBeDefined();

  r.freeze(owner);
  await waitForTask(client, id, ['UNKNOWN'], 10_000, true);
  const frozen = await getTask(client, id);
  // Nobody adopts it, for longer than lease + takeoverAfter would take.
  let now: TaskView | undefined;
  await holdsFor(
    async () => {
      now = await getTask(client, id);
      return ['UNKNOWN', 'EXECUTING'].includes(now.state) && now.worker === owner.id && JSON.stringify(now.steps) === JSON.stringify(frozen.steps);
    },
    WOULD_HAVE_ADOPTED_MS,
    () => `the frozen owner's task changed: ${JSON.stringify({ state: now?.state, worker: now?.worker, steps: now?.steps.map((s) => s.state) })}`,
    250,
  );
  expect(other.output()).not.toMatch(/took over task/);

  r.thaw(owner);
  const executed = await waitForTask(client, id, ['EXECUTED'], 15_000, true);
  expect({ worker: executed.worker, steps: executed.steps.map((s) => s.state) }).toEqual({ worker: owner.id, steps: ['DONE', 'DONE', 'DONE', 'DONE'] });
  const lines = readLedger(ledger).filter((l) => l.taskId === id);
  expect(ledgerCounts(lines, id)).toEqual(Object.fromEntries(executed.steps.map((s) => [s.path, 1])));
  expect([...new Set(lines.map((l) => l.pid))]).toEqual([owner.pid]);
});

scenario('4a. takeover auto: the other worker adopts the task of a frozen owner (interrupted step FAILED); the thawed owner leaves it alone', async () => {
  const r = shared.cluster;
  // Replace the workers (idle) with two that take over after 2 s.
  const [, workers] = await Promise.all([
    Promise.all(r.workers.filter((w) => w.status === undefined).map((w) => w.kill('SIGTERM'))),
    Promise.all([r.addWorker({ name: 'auto-1', env: TAKEOVER }), r.addWorker({ name: 'auto-2', env: TAKEOVER })]),
  ]);

  const executing = await scene.deployUntilStep('env-4a', 2);
  const id = executing.id;
  const owner = workerWithId(executing.worker);
  const adopter = workers.find((w) => w !== owner) as WorkerProcess;
  expect(workers).toContain(owner);

  r.freeze(owner);
  const frozenAt = Date.now();
  // The checkpoint the adopter starts from: frozen in step 2, which lasts 1 s, so nothing of the
  // owner's is on its way to the database; no adoption before the lease (2 s) + takeoverAfter (2 s).
  const checkpoint = await getTask(client, id);
  const interrupted = checkpoint.steps.filter((s) => s.state === 'EXECUTING').map((s) => s.path);
  expect(interrupted).toHaveLength(1);
  const expectedSteps = checkpoint.steps.map((s) => `${s.path}:${s.state === 'EXECUTING' ? 'FAILED' : s.state}`);

  const adopted = await waitForTask(client, id, (t) => t.worker === adopter.id && t.state === 'FAILED', 15_000, true);
  const adoptedAfterMs = Date.now() - frozenAt;
  expect({ state: adopted.state, worker: adopted.worker, steps: adopted.steps.map((s) => `${s.path}:${s.state}`) }).toEqual({
    state: 'FAILED',
    worker: adopter.id,
    steps: expectedSteps,
  });
  expect(adopted.steps.find((s) => s.state === 'FAILED')?.failure).toMatch(/\S/);
  expect(adopter.output()).toMatch(new RegExp(`\\[task ${id}\\].*took over task from worker ${owner.id}`));
  // The old owner's lines so far: the steps DONE at the checkpoint, and the interrupted one if it
  // froze between writing its line and recording it DONE.
  const doneBeforeAdoption = checkpoint.steps.filter((s) => s.state === 'DONE').map((s) => s.path);
  const oldOwnerLinesAtAdoption = readLedger(ledger).filter((l) => l.taskId === id && l.pid === owner.pid);
  expect([doneBeforeAdoption, [...doneBeforeAdoption, ...interrupted]]).toContainEqual(oldOwnerLinesAtAdoption.map((l) => l.step));

  // Thawed, the old owner notices and touches nothing: state, worker and plan stay as adopted.
  r.thaw(owner);
  await owner.waitForOutput(new RegExp(`\\[task ${id}\\].*adopted this task`), 10_000);
  let now: TaskView | undefined;
  await holdsFor(
    async () => {
      now = await getTask(client, id);
      return now.state === 'FAILED' && now.worker === adopter.id && JSON.stringify(now.steps) === JSON.stringify(adopted.steps);
    },
    3_000,
    () => `the old owner changed the adopted task: ${JSON.stringify({ state: now?.state, worker: now?.worker, steps: now?.steps })}`,
    200,
  );
  // Its ledger lines stopped: at most the interrupted step (it was running when it froze), no step after it.
  const oldOwnerSteps = readLedger(ledger)
    .filter((l) => l.taskId === id && l.pid === owner.pid)
    .map((l) => l.step);
  const extra = oldOwnerSteps.slice(oldOwnerLinesAtAdoption.length);
  expect(extra.filter((step) => !interrupted.includes(step))).toEqual([]);

  // Started again, it completes: every step DONE, the DONE ones not run again.
  await startTask(client, id);
  const executed = await waitForTask(client, id, ['EXECUTED'], 15_000, true);
  expect(executed.steps.map((s) => s.state)).toEqual(['DONE', 'DONE', 'DONE', 'DONE']);
  expect(workers.map((w) => w.id)).toContain(executed.worker);
  const counts = ledgerCounts(readLedger(ledger), id);
  const byOldOwner = (step: string) => oldOwnerSteps.filter((x) => x === step).length;
  const expectedCounts = Object.fromEntries(checkpoint.steps.map((s) => [s.path, interrupted.includes(s.path) ? 1 + byOldOwner(s.path) : 1]));
  expect(counts).toEqual(expectedCounts);
  expect(owner.status).toBeUndefined();
  console.info(
    `scenario 4a: adopted ${adoptedAfterMs} ms after SIGSTOP; interrupted step ${interrupted[0]}; ` +
      `old owner wrote ${extra.length} line(s) after thawing (${JSON.stringify(extra)}); ledger ${JSON.stringify(counts)}`,
  );
});

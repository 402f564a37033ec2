/**
 * A worker's start-up (spec §5, issue 9) with real processes: it reads its work directory before
 * it registers with masters, so that restoring ghost tasks as soon as it shows CONNECTED finds
 * them; and its health endpoint answers "not ready" while it still waits for the database,
 * instead of dying; a task it had claimed but had no recovery file for yet is recovered from the
 * database at its next start. Steps of the ledger test plugin append `<taskId> <stepPath> <pid>` to a ledger file.
 *
 * Needs PostgreSQL and RabbitMQ with its AMQP 1.0 plugin (see test/support/cluster.ts).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger } from '@shipdeck/logging';
import { openStores } from '@shipdeck/persistence';
import { useCluster } from '../support/cluster-tests';
import { pollUntil } from '../support/poll';
import { readRecoveryFile } from '../support/recovery-files';
import { LEDGER_APP, LEDGER_HOST, LedgerScene, putLedgerScene } from '../support/ledger-scene';
import { createDeployment, getTask, outcomeOf, putEnvironment, restoreGhostTasks, startTask } from '../support/rest-actions';
import { Api, waitForTask } from '../support/rest-client';
import { FAST_LEASE_ENV } from '../support/timings';
import { WorkerProcess, startWorker } from '../support/worker-process';
import { listWorkers, waitForWorker } from '../support/workers-api';

let client: Api;
let scene: LedgerScene;

const shared = useCluster({ masters: 1, workers: 1, env: FAST_LEASE_ENV }, async (rc) => {
  client = rc.clients[0];
  scene = await putLedgerScene(client, rc.sandbox, [1000, 5000, 1000]);
});
const { scenario } = shared;

/** How often a test looks at the masters while a worker starts: fast, to hit the window right after it connects. */
const EAGER_POLL_MS = 10;

scenario('restore-ghost-tasks right after a restarted worker shows CONNECTED finds the ghost its recovery file holds', async () => {
  const r = shared.cluster;
  const owner = r.workers[0];
  const { id } = await scene.deployUntilStep('env-ghost', 2);

  // Killed mid-step: the task goes UNKNOWN and is removed from the monitor; its `.task` file stays.
  expect(await owner.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  await waitForTask(client, id, ['UNKNOWN'], 10_000, true);
  expect((await client.delete(`/tasks/${id}`)).status).toBe(204);
  await waitForWorker(client, owner.id as string, ['DISCONNECTED']);

  // Started again on its work directory, not waiting for its "started" line: the restore goes out
  // the moment a master lists it CONNECTED.
  const restarted: WorkerProcess = await startWorker({ ...owner.options, wait: 'spawned' });
  try {
    await pollUntil(
      async () => (await listWorkers(client)).some((w) => w.id === owner.id && w.state === 'CONNECTED'),
      { timeoutMs: 30_000, intervalMs: EAGER_POLL_MS, describe: () => `worker ${owner.id} did not show CONNECTED:\n${restarted.output()}` },
    );
    expect(await restoreGhostTasks(client)).toEqual([id]);
    expect(outcomeOf(await getTask(client, id))).toEqual({
      state: 'FAILED',
      worker: owner.id,
      steps: ['DONE', 'FAILED', 'PENDING'],
    });
  } finally {
    await restarted.kill('SIGTERM');
  }
});

scenario('a probe of the health endpoint while the worker waits for the database answers 503 NOT_READY, and the worker lives on', async () => {
  const r = shared.cluster;
  const unreachable = new URL(r.databaseUrl);
  // Nothing listens on port 1: the worker waits for the database (with retries) for minutes.
  unreachable.port = '1';
  const worker = await r.addWorker({ name: 'no-database', env: { SHIPDECK_DB_URL: unreachable.toString() }, wait: 'spawned' });
  try {
    await worker.waitForOutput(/waiting for the database/, 30_000);
    const port = /health endpoint listening on port (\d+)/.exec(worker.output())?.[1];
    expect(port).toBeDefined();
    const waits = () => worker.output().match(/waiting for the database/g)?.length ?? 0;
    const waitsBefore = waits();

    for (let probe = 0; probe < 3; probe++) {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
      expect(response.status).toBe(503);
      expect(await response.json()).toMatchObject({ error: { code: 'NOT_READY', message: 'the worker is starting' }, workerId: worker.id });
    }
    // Still alive, and still waiting: it tries the database again after the probes.
    await pollUntil(() => worker.status !== undefined || waits() > waitsBefore, {
      timeoutMs: 15_000,
      describe: () => `the worker did not try the database again:\n${worker.output()}`,
    });
    expect(worker.status).toBeUndefined();
  } finally {
    await worker.kill('SIGTERM');
  }
});

scenario('a task the worker claimed just before it died, with no recovery file yet, is recovered FAILED at its restart; stale temporary files go', async () => {
  const r = shared.cluster;
  // The scenarios above left no worker running: the task stays QUEUED until the test claims it.
  expect(r.workers.filter((w) => w.status === undefined)).toEqual([]);
  const owner = r.workers[0];
  await putEnvironment(client, 'env-claimed', [LEDGER_HOST]);
  const id = await createDeployment(client, LEDGER_APP, '1.0.0', 'env-claimed');
  await startTask(client, id);
  await waitForTask(client, id, ['QUEUED'], 10_000, true);

  // The state a SIGKILL leaves within milliseconds of the claim: the claim committed in the
  // database, the recovery file still a temporary file that was never renamed into place.
  const stores = await openStores({ url: r.databaseUrl, logger: createLogger({ json: false, name: 'worker-startup-test', level: 'warn' }), migrate: false });
  try {
    expect(await stores.tasks.claim(id, owner.id as string, new Date(Date.now() + 60_000))).toMatchObject({ state: 'EXECUTING', workerId: owner.id });
  } finally {
    await stores.close();
  }
  const temporary = join(owner.workDir, `.${id}.${randomUUID()}.tmp`);
  writeFileSync(temporary, '{"format":"shipdeck-task-recovery","vers');

  const restarted = await r.restartWorker(owner);
  const recovered = await getTask(client, id);
  expect(outcomeOf(recovered)).toEqual({
    state: 'FAILED',
    worker: owner.id,
    steps: ['PENDING', 'PENDING', 'PENDING'],
  });
  expect(existsSync(temporary)).toBe(false);
  expect(readRecoveryFile(owner.workDir, id)?.task.state).toBe('FAILED');

  // Nothing ran; started again, the task runs to its end on the restarted worker.
  await startTask(client, id);
  const executed = await waitForTask(client, id, ['EXECUTED'], 20_000, true);
  expect({ worker: executed.worker, steps: executed.steps.map((s) => s.state) }).toEqual({ worker: restarted.id, steps: ['DONE', 'DONE', 'DONE'] });
}, 60_000);

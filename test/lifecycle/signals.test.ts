/**
 * Issue 4, real signals at real processes (spec §4, §5): masters restart freely (SIGKILL and
 * SIGTERM) while workers execute tasks, and a worker's SIGTERM drains it (CONNECTED → DRAINING →
 * DISCONNECTED, exit 0). Each suite has a PostgreSQL schema and a RabbitMQ queue of its own.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireClusterPrerequisites } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import { holdsFor, pollUntil, withDeadline } from '../support/poll';
import { killTrackedProcesses, trackProcesses } from '../support/processes';
import { deploy, heldScript, importCommands, localEnvironments, taskStates } from '../support/rest-actions';
import { api, waitForTask } from '../support/rest-client';
import { TaskStateRecorder, WorkerStateRecorder } from '../support/state-recorders';
import { FAST_CHANNEL_ENV, GRACE_MS } from '../support/timings';
import type { WorkerProcess } from '../support/worker-process';
import { listWorkers, waitForWorker } from '../support/workers-api';

beforeAll(requireClusterPrerequisites, 120_000);

afterAll(() => killTrackedProcesses());

/** The pids a held step wrote (one line per run). */
function startedPids(file: string): number[] {
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number) : [];
}

describe('5. masters restart freely: SIGKILL of the master that started the tasks', () => {
  itWithCluster(
    'the tasks complete; B reports them meanwhile (never UNKNOWN); A, restarted on its port, reports them and the workers are back',
    // Capacity 1: each of the three workers executes one of the three tasks.
    { masters: 2, workers: 3, workerEnv: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '1' }, env: FAST_CHANNEL_ENV },
    async (l) => {
      const [masterA, masterB] = l.masters;
      const a = api(masterA.url);
      const started = join(l.sandbox, 'held.started');
      const release = join(l.sandbox, 'held.release');
      await localEnvironments(a, 'local-5', ['env-1', 'env-2', 'env-3']);
      await importCommands(a, 'restart-app', [['held', heldScript(started, release)]]);
      const ids: string[] = [];
      for (const env of ['env-1', 'env-2', 'env-3']) ids.push(await deploy(a, a, 'restart-app', env));
      await pollUntil(() => startedPids(started).length === 3, { timeoutMs: 20_000, describe: () => `steps started: ${startedPids(started)}` });
      trackProcesses(startedPids(started));
      const executing = await Promise.all(ids.map((id) => waitForTask(masterA.url, id, ['EXECUTING'])));
      const workerIds = l.workers.map((w) => w.id);
      expect(executing.map((t) => t.worker).sort()).toEqual([...workerIds].sort());
      const recorder = await new TaskStateRecorder(l.endpoints, ids).start();

      expect(await masterA.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      const killedAt = Date.now();
      // Longer than the grace period: B keeps showing the real state, and the workers connected.
      await holdsFor(
        async () => {
          const states = await taskStates(masterB.url, ids);
          const workers = await listWorkers(masterB.url);
          return states.every((s) => s === 'EXECUTING') && workerIds.every((id) => workers.find((w) => w.id === id)?.state === 'CONNECTED');
        },
        GRACE_MS + 1_500,
        () => `master B stopped reporting the tasks or workers correctly while A was down: ${recorder}`,
        200,
      );

      await masterA.restart();
      const restartedAfterMs = Date.now() - killedAt;
      // The workers reconnect by themselves.
      await Promise.all(workerIds.map((id) => waitForWorker(masterA.url, id as string, ['CONNECTED'], 20_000)));
      const reconnectedAfterMs = Date.now() - killedAt;
      expect(await taskStates(masterA.url, ids)).toEqual(['EXECUTING', 'EXECUTING', 'EXECUTING']);
      expect(l.workers.map((w) => w.status)).toEqual([undefined, undefined, undefined]);
      // Release the steps only once the recorder, too, has seen the restarted A show them
      // EXECUTING: its round under way may still be waiting on A from before the restart.
      await pollUntil(() => ids.every((id) => recorder.sequence(masterA.name, id).slice(-2).join(' ') === 'ERROR EXECUTING'), {
        timeoutMs: 10_000,
        describe: () => `the recorder did not see the restarted A show the tasks EXECUTING: ${recorder}`,
      });

      writeFileSync(release, '');
      for (const id of ids) {
        const executed = await waitForTask(masterA.url, id, ['EXECUTED'], 15_000);
        expect(executed.steps.map((s) => s.state)).toEqual(['DONE']);
      }
      expect(await taskStates(masterB.url, ids)).toEqual(['EXECUTED', 'EXECUTED', 'EXECUTED']);
      await recorder.stop();
      for (const id of ids) {
        // B: the real state all along. A: the real state before it died and from its restart on.
        expect({ id, b: recorder.sequence(masterB.name, id) }).toEqual({ id, b: ['EXECUTING', 'EXECUTED'] });
        expect({ id, a: recorder.sequence(masterA.name, id) }).toEqual({ id, a: ['EXECUTING', 'ERROR', 'EXECUTING', 'EXECUTED'] });
      }
      console.info(`scenario 5: A ready again ${restartedAfterMs} ms after SIGKILL; every worker reconnected to it after ${reconnectedAfterMs} ms`);
    },
    120_000,
  );
});

describe('8. SIGTERM: a worker drains and exits 0; a master exits 0 and its workers reconnect when it is back', () => {
  itWithCluster(
    'worker: CONNECTED → DRAINING → DISCONNECTED on every master, its task EXECUTED; master: exit 0, workers keep running and reconnect',
    { masters: 2, workers: 2, env: FAST_CHANNEL_ENV },
    async (l) => {
      const [masterA, masterB] = l.masters;
      const [a, b] = [api(masterA.url), api(masterB.url)];
      const started = join(l.sandbox, 'held.started');
      const release = join(l.sandbox, 'held.release');
      await localEnvironments(a, 'local-8', ['env-1', 'env-2']);
      await importCommands(a, 'sigterm-app', [['held', heldScript(started, release)]]);
      const taskId = await deploy(a, b, 'sigterm-app', 'env-1');
      await pollUntil(() => startedPids(started).length === 1, { timeoutMs: 20_000, describe: () => 'the step never started' });
      trackProcesses(startedPids(started));
      const executing = await waitForTask(masterA.url, taskId, ['EXECUTING']);
      const worker = l.workers.find((w) => w.id === executing.worker) as WorkerProcess;
      const survivor = l.workers.find((w) => w !== worker) as WorkerProcess;
      const id = worker.id as string;
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['CONNECTED'], 5_000)));
      const recorder = await new WorkerStateRecorder(l.endpoints, id).start();

      process.kill(worker.pid, 'SIGTERM');
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['DRAINING'], 5_000)));
      // Release the step only once the recorder has seen DRAINING everywhere too: the worker
      // leaves within milliseconds of the step's end, which a sample could otherwise miss.
      await pollUntil(() => l.endpoints.every((m) => recorder.sequence(m.name).includes('DRAINING')), {
        timeoutMs: 5_000,
        describe: () => `the recorder did not see DRAINING on every master: ${JSON.stringify(l.endpoints.map((m) => recorder.sequence(m.name)))}`,
      });
      expect(worker.status).toBeUndefined();
      writeFileSync(release, '');
      const executed = await waitForTask(masterB.url, taskId, ['EXECUTED'], 15_000);
      expect({ worker: executed.worker, steps: executed.steps.map((s) => s.state) }).toEqual({ worker: id, steps: ['DONE'] });
      expect(await withDeadline(worker.exited, 15_000, 'the SIGTERMed worker did not exit')).toEqual({ code: 0, signal: null });
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['DISCONNECTED'], 5_000)));
      await recorder.stop();
      for (const m of l.endpoints) {
        expect({ master: m.name, states: recorder.sequence(m.name) }).toEqual({
          master: m.name,
          states: ['CONNECTED', 'DRAINING', 'DISCONNECTED'],
        });
      }
      expect(worker.output()).toMatch(/SIGTERM received: draining/);

      // SIGTERM to a master: it exits 0 within a few seconds; the other worker keeps running.
      const termAt = Date.now();
      expect(await withDeadline(masterA.kill('SIGTERM'), 5_000, 'master A did not exit after SIGTERM')).toEqual({ code: 0, signal: null });
      const exitedAfterMs = Date.now() - termAt;
      const survivorId = survivor.id as string;
      const meanwhile = await deploy(b, b, 'sigterm-app', 'env-2');
      expect((await waitForTask(masterB.url, meanwhile, ['EXECUTED'], 15_000)).worker).toBe(survivorId);
      await holdsFor(
        async () => survivor.status === undefined && (await listWorkers(masterB.url)).find((w) => w.id === survivorId)?.state === 'CONNECTED',
        GRACE_MS + 500,
        () => `the surviving worker did not stay CONNECTED on B while A was down: status ${JSON.stringify(survivor.status)}`,
        200,
      );
      await masterA.restart();
      await waitForWorker(masterA.url, survivorId, ['CONNECTED'], 20_000);
      expect((await listWorkers(masterA.url)).find((w) => w.id === id)?.state).toBe('DISCONNECTED');
      expect(survivor.status).toBeUndefined();
      console.info(`scenario 8: master A exited ${exitedAfterMs} ms after SIGTERM`);
    },
    120_000,
  );
});

/**
 * Issue 4, worker states per master (spec §4, §6): CONNECTED where the configuration hashes match,
 * INCOMPATIBLE where they differ, task counts and last seen; and UNKNOWN tasks while their worker is
 * frozen past the grace period (SIGSTOP), their real state again once it is back (SIGCONT).
 * Real processes, a PostgreSQL schema and a RabbitMQ queue of their own per cluster.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { computeConfigHash } from '@shipdeck/config';
import type { WorkerView } from '@shipdeck/master-services';
import type { ErrorBody } from '@shipdeck/rest-api';
import type { TaskView } from '@shipdeck/tasks';
import { requireClusterPrerequisites } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import type { MasterProcess } from '../support/master-process';
import { pollUntil } from '../support/poll';
import { killTrackedProcesses, readPidFile, trackProcesses } from '../support/processes';
import { deploy, getTask, heldScript, importCommands, localEnvironments, runControl } from '../support/rest-actions';
import { Api, api, expectStatus, waitForTask } from '../support/rest-client';
import { TaskStateRecorder } from '../support/state-recorders';
import { FAST_CHANNEL_ENV, GRACE_MS } from '../support/timings';
import { listWorkers, serverInfo, waitForWorker } from '../support/workers-api';

beforeAll(requireClusterPrerequisites, 120_000);

afterAll(() => killTrackedProcesses());

describe('2. worker states per master: the same worker CONNECTED on one master, INCOMPATIBLE on another', () => {
  itWithCluster(
    'lists it CONNECTED on A, INCOMPATIBLE on B, with its task counts and a recent lastSeen on both',
    { masters: 1, workers: 0, env: FAST_CHANNEL_ENV },
    async (l) => {
      const [masterA] = l.masters;
      // B's home differs from A's by one file in conf/.
      const homeB = l.cloneHome();
      writeFileSync(join(homeB, 'conf', 'site-notes.txt'), 'only on master B\n');
      const masterB: MasterProcess = await l.addMaster({ name: 'master-b', home: homeB });
      const [infoA, infoB] = [await serverInfo(masterA.url), await serverInfo(masterB.url)];
      expect(infoA.configHash).toBe(computeConfigHash(l.home));
      expect(infoB.configHash).toBe(computeConfigHash(homeB));
      expect(infoB.configHash).not.toBe(infoA.configHash);

      const worker = await l.addWorker({ name: 'worker-a', masters: [`localhost:${masterA.workerPort}`, `localhost:${masterB.workerPort}`] });
      const id = worker.id as string;
      expect(id).toEqual(expect.any(String));
      await waitForWorker(masterA.url, id, ['CONNECTED']);
      await waitForWorker(masterB.url, id, ['INCOMPATIBLE']);
      await worker.waitForOutput(/has another configuration: it lists this worker INCOMPATIBLE/, 5_000);

      // Tasks published by A (A's hash): one deployment and two control tasks, all run by the worker.
      const a = api(masterA.url);
      const ledger = join(l.sandbox, 'ledger.txt');
      expectStatus(await a.put('/hosts/ledger-1', { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
      expectStatus(await a.put('/environments/env-1', { hosts: ['ledger-1'], dictionary: {} }), 201);
      expectStatus(
        await a.post('/packages', {
          application: 'ledger-app',
          version: '1.0.0',
          deployables: [{ name: 'entry', type: 'test.Ledger', ledgerFile: ledger }],
        }),
        201,
      );
      const ids = [await deploy(a, a, 'ledger-app', 'env-1'), await runControl(a, a, 'ledger-1'), await runControl(a, a, 'ledger-1')];
      for (const taskId of ids) expect((await waitForTask(masterA.url, taskId, ['EXECUTED'])).worker).toBe(id);

      const expectRow = (row: WorkerView | undefined, state: string, configHash: string, asked: number) => {
        expect(row).toEqual({
          id,
          name: 'worker-a',
          address: expect.stringMatching(/^[^:\s]+:\d+$/),
          state,
          deploymentTasks: 1,
          controlTasks: 2,
          configHash,
          capacity: 10,
          lastSeen: expect.any(String),
        });
        // Heard from within the grace period before the master answered (heartbeats every 300 ms).
        const lastSeen = Date.parse((row as WorkerView).lastSeen);
        expect({ lastSeen, recent: lastSeen >= asked - GRACE_MS && lastSeen <= Date.now() }).toEqual({ lastSeen, recent: true });
      };
      const asked = Date.now();
      const [onA, onB] = [await listWorkers(masterA.url), await listWorkers(masterB.url)];
      expect(onA).toHaveLength(1);
      expect(onB).toHaveLength(1);
      // The worker's own hash is A's: B lists it with that hash, and INCOMPATIBLE.
      expectRow(onA[0], 'CONNECTED', infoA.configHash, asked);
      expectRow(onB[0], 'INCOMPATIBLE', infoA.configHash, asked);
      expect(worker.status).toBeUndefined();
    },
    120_000,
  );
});

describe('4. UNKNOWN: a worker frozen past the grace period', () => {
  itWithCluster(
    'shows its task UNKNOWN on every master and refuses stop/abort; after SIGCONT the task is EXECUTING again and completes',
    { masters: 2, workers: 1, env: FAST_CHANNEL_ENV },
    async (l) => {
      const [masterA, masterB] = l.masters;
      const [a, b]: Api[] = [api(masterA.url), api(masterB.url)];
      const worker = l.workers[0];
      const id = worker.id as string;
      const started = join(l.sandbox, 'held.started');
      const release = join(l.sandbox, 'held.release');
      await localEnvironments(a, 'local-4', ['env-4']);
      await importCommands(a, 'holder', [['held', heldScript(started, release)]]);
      const taskId = await deploy(a, a, 'holder', 'env-4');
      await pollUntil(() => existsSync(started), { timeoutMs: 20_000, describe: () => 'the step never started' });
      const [commandPid] = readPidFile(started);
      trackProcesses([commandPid]);
      await waitForTask(masterB.url, taskId, ['EXECUTING']);
      const recorder = await new TaskStateRecorder(l.endpoints, [taskId]).start();

      const frozenAt = Date.now();
      // The cluster thaws it when it stops, should the test fail before SIGCONT.
      l.freeze(worker);
      const unknown = await Promise.all([
        waitForTask(masterA.url, taskId, ['UNKNOWN'], 10_000),
        waitForTask(masterB.url, taskId, ['UNKNOWN'], 10_000),
      ]);
      const unknownAfterMs = Date.now() - frozenAt;
      expect(unknown.map((t) => t.worker)).toEqual([id, id]);
      for (const m of [masterA, masterB]) await waitForWorker(m.url, id, ['DISCONNECTED'], 1_000);
      // Not before the grace period: a worker briefly silent is not gone.
      expect(unknownAfterMs).toBeGreaterThanOrEqual(GRACE_MS - 400);

      for (const [client, operation] of [[a, 'stop'], [b, 'abort'], [a, 'abort'], [b, 'stop']] as const) {
        const refused = await client.post<ErrorBody>(`/tasks/${taskId}/${operation}`);
        expect({ operation, status: refused.status, code: refused.body.error?.code, message: refused.body.error?.message }).toEqual({
          operation,
          status: 409,
          code: 'ILLEGAL_TRANSITION',
          message: expect.stringContaining('UNKNOWN'),
        });
      }
      // The listing agrees with the task view, and the step is still running on the frozen worker.
      const listed = expectStatus(await b.get<{ items: TaskView[] }>('/tasks'), 200).items.find((t) => t.id === taskId);
      expect(listed?.state).toBe('UNKNOWN');
      expect(readPidFile(started)).toEqual([commandPid]);

      l.thaw(worker);
      const back = await Promise.all([
        waitForTask(masterA.url, taskId, ['EXECUTING'], 15_000),
        waitForTask(masterB.url, taskId, ['EXECUTING'], 15_000),
      ]);
      expect(back.map((t) => t.worker)).toEqual([id, id]);
      for (const m of [masterA, masterB]) await waitForWorker(m.url, id, ['CONNECTED'], 5_000);

      writeFileSync(release, '');
      const executed = await waitForTask(masterA.url, taskId, ['EXECUTED'], 15_000);
      expect(executed.steps.map((s) => s.state)).toEqual(['DONE']);
      expect((await getTask(masterB.url, taskId)).state).toBe('EXECUTED');
      await recorder.stop();
      for (const m of l.endpoints) {
        expect({ master: m.name, states: recorder.sequence(m.name, taskId) }).toEqual({
          master: m.name,
          states: ['EXECUTING', 'UNKNOWN', 'EXECUTING', 'EXECUTED'],
        });
      }
      expect(worker.status).toBeUndefined();
      console.info(`scenario 4: UNKNOWN on both masters ${unknownAfterMs} ms after SIGSTOP (grace ${GRACE_MS} ms)`);
    },
    120_000,
  );
});

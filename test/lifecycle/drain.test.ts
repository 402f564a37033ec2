/**
 * Issue 4, draining (spec §4, §6, §7): `POST /workers/{id}/drain` and `shipdeck workers drain ID`
 * through any master. The worker announces DRAINING to every master, takes no new task, finishes
 * the one it runs, exits 0 and stays listed DISCONNECTED until `DELETE /workers/{id}`.
 * Real processes, a PostgreSQL schema and a RabbitMQ queue of their own.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorBody } from '@shipdeck/rest-api';
import { Cluster, requireClusterPrerequisites } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { pollUntil, withDeadline } from '../support/poll';
import { readPidFile, trackProcesses } from '../support/processes';
import { adminToken, deploy, heldScript, importCommands, localEnvironments } from '../support/rest-actions';
import { Api, waitForTask } from '../support/rest-client';
import { runShipdeck } from '../support/shipdeck-process';
import { WorkerStateRecorder } from '../support/state-recorders';
import { FAST_CHANNEL_ENV } from '../support/timings';
import type { WorkerProcess } from '../support/worker-process';
import { listWorkers, waitForWorker } from '../support/workers-api';

beforeAll(requireClusterPrerequisites, 120_000);

describe('3. drain through any master (2 masters, 3 workers)', () => {
  let a: Api;
  let b: Api;
  const { scenario } = useCluster(
    { masters: 2, workers: 3, env: FAST_CHANNEL_ENV },
    async (l) => {
      [a, b] = l.clients;
      await localEnvironments(a, 'local-3', ['env-rest', 'env-cli', 'env-while-draining']);
    },
    60_000,
  );

  /** Deploys a held step; answers the task id, the worker executing it and the release file. */
  async function heldTask(l: Cluster, application: string, environment: string, through: Api) {
    const started = join(l.sandbox, `${application}.started`);
    const release = join(l.sandbox, `${application}.release`);
    await importCommands(through, application, [['held', heldScript(started, release)]]);
    const taskId = await deploy(through, through, application, environment);
    await pollUntil(() => existsSync(started), { timeoutMs: 20_000, describe: () => `the step of ${application} never started` });
    trackProcesses(readPidFile(started));
    const executing = await waitForTask(l.masters[0].url, taskId, ['EXECUTING']);
    const owner = l.workers.find((w) => w.id === executing.worker) as WorkerProcess;
    expect(owner).toBeDefined();
    return { taskId, owner, release };
  }

  scenario('REST drain on B while the worker runs a task: DRAINING everywhere, task EXECUTED, exit 0, DISCONNECTED, DELETE', async (l) => {
    const [masterA, masterB] = l.masters;
    const { taskId, owner, release } = await heldTask(l, 'drained-rest', 'env-rest', a);
    const id = owner.id as string;
    const recorder = await new WorkerStateRecorder(l.endpoints, id).start();
    try {
      const answer = await b.post(`/workers/${id}/drain`);
      expect({ status: answer.status, text: answer.text }).toEqual({ status: 200, text: expect.stringContaining(id) });
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['DRAINING'], 5_000)));

      // A draining worker takes no new task: another worker executes the next one.
      const other = await deploy(b, b, 'drained-rest', 'env-while-draining');
      const otherDone = await waitForTask(masterA.url, other, ['EXECUTING', 'EXECUTED']);
      expect(otherDone.worker).not.toBe(id);
      expect(owner.status).toBeUndefined();

      writeFileSync(release, '');
      const executed = await waitForTask(masterB.url, taskId, ['EXECUTED'], 15_000);
      expect({ worker: executed.worker, steps: executed.steps.map((s) => s.state) }).toEqual({ worker: id, steps: ['DONE'] });
      expect(await withDeadline(owner.exited, 15_000, 'the drained worker did not exit')).toEqual({ code: 0, signal: null });
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['DISCONNECTED'], 5_000)));
      expect((await waitForTask(masterA.url, other, ['EXECUTED'], 15_000)).worker).not.toBe(id);

      // Only a DISCONNECTED worker can be forgotten; unknown ids are 404.
      const connected = l.workers.find((w) => w !== owner && w.status === undefined) as WorkerProcess;
      const refused = await a.delete<ErrorBody>(`/workers/${connected.id}`);
      expect({ status: refused.status, code: refused.body.error?.code }).toEqual({ status: 409, code: 'CONFLICT' });
      expect((await listWorkers(masterA.url)).find((w) => w.id === connected.id)?.state).toBe('CONNECTED');
      const unknown = await b.post<ErrorBody>('/workers/worker-does-not-exist/drain');
      expect({ status: unknown.status, code: unknown.body.error?.code }).toEqual({ status: 404, code: 'WORKER_NOT_FOUND' });

      // Delete only once the recorder saw DISCONNECTED everywhere too: the window before the
      // DELETE is a few requests long, which a sample could otherwise miss.
      await pollUntil(() => l.endpoints.every((m) => recorder.sequence(m.name).includes('DISCONNECTED')), {
        timeoutMs: 5_000,
        describe: () => `the recorder did not see DISCONNECTED on every master: ${recorder}`,
      });
      const deleted = await b.delete(`/workers/${id}`);
      expect({ status: deleted.status, text: deleted.text }).toEqual({ status: 204, text: '' });
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['ABSENT'], 5_000)));
      expect((await a.delete<ErrorBody>(`/workers/${id}`)).status).toBe(404);
    } finally {
      await recorder.stop();
    }
    for (const m of l.endpoints) {
      expect({ master: m.name, states: recorder.sequence(m.name) }).toEqual({
        master: m.name,
        states: ['CONNECTED', 'DRAINING', 'DISCONNECTED', 'ABSENT'],
      });
    }
  });

  scenario('CLI `workers drain ID --server A`: same path, exit 0 of the CLI and of the worker', async (l) => {
    const [masterA, masterB] = l.masters;
    const { taskId, owner, release } = await heldTask(l, 'drained-cli', 'env-cli', b);
    const id = owner.id as string;
    const recorder = await new WorkerStateRecorder(l.endpoints, id).start();
    const cli = { env: { SHIPDECK_TOKEN: await adminToken(masterA.url) } };
    try {
      const drained = await runShipdeck(['workers', 'drain', id, '--server', masterA.url], cli);
      expect({ code: drained.code, stderr: drained.stderr }).toEqual({ code: 0, stderr: '' });
      expect(drained.stdout).toContain(id);
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['DRAINING'], 5_000)));
      const listed = await runShipdeck(['workers', 'list', '--server', masterB.url], cli);
      expect(listed.code).toBe(0);
      expect(listed.stdout.split('\n').find((line) => line.includes(id))).toMatch(/\bDRAINING\b/);

      writeFileSync(release, '');
      expect((await waitForTask(masterA.url, taskId, ['EXECUTED'], 15_000)).worker).toBe(id);
      expect(await withDeadline(owner.exited, 15_000, 'the drained worker did not exit')).toEqual({ code: 0, signal: null });
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, id, ['DISCONNECTED'], 5_000)));
      const unknown = await runShipdeck(['workers', 'drain', 'worker-does-not-exist', '--server', masterB.url], cli);
      expect({ code: unknown.code, stderr: unknown.stderr }).toEqual({ code: expect.any(Number), stderr: expect.stringMatching(/not known|not found/i) });
      expect(unknown.code).not.toBe(0);
    } finally {
      await recorder.stop();
      rmSync(release, { force: true });
    }
    for (const m of l.endpoints) {
      expect({ master: m.name, states: recorder.sequence(m.name) }).toEqual({ master: m.name, states: ['CONNECTED', 'DRAINING', 'DISCONNECTED'] });
    }
  });
});

/**
 * Issue 4, command channel: a stop or abort requested through any master reaches the worker that
 * executes the task, over that master's command channel, and the requester gets a clear answer.
 * Real `shipdeck master` / `shipdeck worker` processes on a PostgreSQL schema and RabbitMQ queue
 * of their own (test/support/cluster.ts), with short channel timings.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskView } from '@shipdeck/tasks';
import { requireClusterPrerequisites } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { pollUntil } from '../support/poll';
import { isProcessAlive, trackProcesses, waitForPidFile, waitForProcessesGone } from '../support/processes';
import { deploy, getTask, heldScript, importCommands, localEnvironments } from '../support/rest-actions';
import { Api, stepOf, waitForTask } from '../support/rest-client';
import { FAST_CHANNEL_ENV } from '../support/timings';

beforeAll(requireClusterPrerequisites, 120_000);

describe('1. command channel: stop and abort through the master that did not start the task', () => {
  let a: Api;
  let b: Api;
  const { scenario } = useCluster(
    { masters: 2, workers: 1, env: FAST_CHANNEL_ENV },
    async (l) => {
      [a, b] = l.clients;
      await localEnvironments(a, 'local-1', ['env-abort', 'env-stop']);
    },
    40_000,
  );

  scenario('abort through B of a task started through A: 200 with the task, the command is killed, ABORTED', async (l) => {
    const [masterA, masterB] = l.masters;
    const pidFile = join(l.sandbox, 'abort.pid');
    // The shell writes its own pid and its sleep's, then waits for the sleep.
    await importCommands(a, 'sleeper', [['nap', `sleep 300 & echo "$$ $!" > ${pidFile}; wait`]]);
    const id = await deploy(a, a, 'sleeper', 'env-abort');
    const pids = await waitForPidFile(pidFile, 2);
    trackProcesses(pids);
    const executing = await waitForTask(masterB.url, id, ['EXECUTING']);
    expect(executing.worker).toBe(l.workers[0].id);

    const started = Date.now();
    const answer = await b.post<TaskView>(`/tasks/${id}/abort`);
    expect({ status: answer.status, id: answer.body.id }).toEqual({ status: 200, id });
    expect(['ABORTING', 'ABORTED']).toContain(answer.body.state);
    // B pushed the abort over its own command channel and the worker applied it.
    await pollUntil(() => masterB.output().includes(`worker answered abort: abort of task ${id} applied`), {
      timeoutMs: 5_000,
      describe: () => `master B did not log the worker's answer to the abort of ${id}`,
    });
    await waitForProcessesGone(pids, 10_000);
    const aborted = await waitForTask(masterA.url, id, ['ABORTED'], 15_000);
    expect(stepOf(aborted, 'nap').state).toBe('FAILED');
    expect(pids.filter(isProcessAlive)).toEqual([]);
    const fromB = await getTask(masterB.url, id);
    expect({ state: fromB.state, worker: fromB.worker }).toEqual({ state: 'ABORTED', worker: executing.worker });
    console.info(`scenario 1 abort: command gone and task ABORTED ${Date.now() - started} ms after the request`);
  });

  scenario('stop through B of a task started through A: STOPPED after its current step', async (l) => {
    const [masterA, masterB] = l.masters;
    const started = join(l.sandbox, 'stop.started');
    const release = join(l.sandbox, 'stop.release');
    const after = join(l.sandbox, 'stop.after');
    await importCommands(a, 'stopper', [
      ['held', heldScript(started, release)],
      ['after', `echo after > ${after}`],
    ]);
    const id = await deploy(a, a, 'stopper', 'env-stop');
    await pollUntil(() => existsSync(started), { timeoutMs: 20_000, describe: () => `step "held" of ${id} never started` });
    await waitForTask(masterB.url, id, ['EXECUTING']);

    const answer = await b.post<TaskView>(`/tasks/${id}/stop`);
    expect({ status: answer.status, id: answer.body.id, state: answer.body.state }).toEqual({ status: 200, id, state: 'STOPPING' });
    await pollUntil(() => masterB.output().includes(`worker answered stop: stop of task ${id} applied`), {
      timeoutMs: 5_000,
      describe: () => `master B did not log the worker's answer to the stop of ${id}`,
    });
    expect((await getTask(masterA.url, id)).state).toBe('STOPPING');
    // The current step runs to its end.
    writeFileSync(release, '');
    const stopped = await waitForTask(masterA.url, id, ['STOPPED'], 15_000);
    expect({ held: stepOf(stopped, 'held').state, after: stepOf(stopped, 'after').state }).toEqual({ held: 'DONE', after: 'PENDING' });
    expect(existsSync(after)).toBe(false);
    expect((await getTask(masterB.url, id)).state).toBe('STOPPED');
  });
});

/**
 * Live task events across masters (issue 15): a worker executes a task created through master A
 * while a client follows it through master B; B is killed mid-stream, and the client resumes on A
 * with its last event id. Every log line arrives exactly once, in order.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireClusterPrerequisites } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { createDeployment, importCommands, localEnvironments, startTask } from '../support/rest-actions';
import { Api, waitForTask } from '../support/rest-client';
import { SseEvent, SseStream } from '../support/sse-client';

beforeAll(requireClusterPrerequisites, 120_000);

describe('task events through a cluster of 2 masters and 1 worker', () => {
  let a: Api;
  const shared = useCluster({ masters: 2, workers: 1 }, async (cluster) => {
    [a] = cluster.clients;
  });

  shared.scenario('a client following on master B, killed mid-stream, resumes on master A without gaps or duplicates', async (cluster) => {
    const release = join(cluster.sandbox, 'release');
    const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line-${from + i}`);
    // Three lines, then wait for the test, then three more.
    const script = [
      `for l in ${lines(1, 3).join(' ')}; do echo $l; done`,
      `i=0; while [ ! -f ${release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`,
      `for l in ${lines(4, 6).join(' ')}; do echo $l; done`,
    ].join('; ');
    await localEnvironments(a, 'local-1', ['dev']);
    await importCommands(a, 'events-app', [['talker', script]]);
    const id = await createDeployment(a, 'events-app', '1.0.0', 'dev');
    await startTask(a, id);

    const [masterA, masterB] = cluster.masters;
    const seen: SseEvent[] = [];
    const logText = () => seen.filter((e) => e.event === 'log').map((e) => String(e.data['text'])).join('');
    const onB = await SseStream.open(`${masterB!.url}/api/v1/tasks/${id}/events`);
    while (!logText().includes('line-3\n')) seen.push(await onB.next());
    expect(existsSync(release)).toBe(false);

    await masterB!.kill('SIGKILL');
    await expect(onB.next()).rejects.toThrow();
    onB.close();
    writeFileSync(release, '');

    const onA = await SseStream.open(`${masterA!.url}/api/v1/tasks/${id}/events`, seen.at(-1)!.id);
    for (let e = await onA.next(); ; e = await onA.next()) {
      seen.push(e);
      if (e.event === 'state' && e.data['state'] === 'EXECUTED') break;
    }
    onA.close();
    // The streamed text is the stored log exactly (no gap, nothing twice), and the script's lines come once each, in order.
    const stored = await a.get<string>(`/tasks/${id}/steps/1-1-1/log`);
    expect(logText()).toBe(stored.text);
    expect(logText().split('\n').filter((l) => /^line-\d$/.test(l))).toEqual(lines(1, 6));
    // Each state change once (the replay starts where the task was when B's stream opened), ending EXECUTED.
    const states = seen.filter((e) => e.event === 'state').map((e) => e.data['state']);
    expect(new Set(states).size).toBe(states.length);
    expect(states.at(-1)).toBe('EXECUTED');
    expect(seen.filter((e) => e.event === 'step').at(-1)!.data['state']).toBe('DONE');
    await waitForTask(a, id, ['EXECUTED']);
  }, 90_000);
});

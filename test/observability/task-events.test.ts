/**
 * Live task events across masters (issue 15): a worker executes a task created through master A
 * while a client follows it through master B; B is killed mid-stream, and the client resumes on A
 * with its last event id. Every log line arrives exactly once, in order. Then the CLI does the
 * same through its event stream: `tasks start ID --wait` and `tasks log ID PATH --follow` on B,
 * killed mid-step and started again, reopen the stream on the same URL with the last event id.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireClusterPrerequisites } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { OutputLog } from '../support/output-log';
import { pollUntil } from '../support/poll';
import { adminToken, createDeployment, importCommands, localEnvironments, numberedLines, startTask, talkerScript } from '../support/rest-actions';
import { Api, waitForTask } from '../support/rest-client';
import { ShipdeckProcess } from '../support/shipdeck-process';
import { SseEvent, SseStream } from '../support/sse-client';

beforeAll(requireClusterPrerequisites, 120_000);

/** The lines of a process's stdout (its stderr lines are marked `[err]`, the harness's `---- `). */
const stdoutLines = (log: OutputLog) =>
  log
    .text()
    .split('\n')
    .filter((l) => !l.startsWith('[err] ') && !l.startsWith('---- '));
const stderrLines = (log: OutputLog) =>
  log
    .text()
    .split('\n')
    .filter((l) => l.startsWith('[err] '))
    .map((l) => l.slice('[err] '.length));

describe('task events through a cluster of 2 masters and 1 worker', () => {
  let a: Api;
  const shared = useCluster({ masters: 2, workers: 1 }, async (cluster) => {
    [a] = cluster.clients;
    await localEnvironments(a, 'local-1', ['dev']);
  });

  shared.scenario('a client following on master B, killed mid-stream, resumes on master A without gaps or duplicates', async (cluster) => {
    const release = join(cluster.sandbox, 'release');
    const lines = numberedLines;
    await importCommands(a, 'events-app', [['talker', talkerScript(release)]]);
    const id = await createDeployment(a, 'events-app', '1.0.0', 'dev');
    await startTask(a, id);

    const [masterA, masterB] = cluster.masters;
    const seen: SseEvent[] = [];
    const logText = () => seen.filter((e) => e.event === 'log').map((e) => String(e.data['text'])).join('');
    const onB = await SseStream.open(`${masterB!.url}/api/v1/tasks/${id}/events`);
    while (!logText().includes('line-3\n')) seen.push(await onB.next());
    expect(existsSync(release)).toBe(false);

    await masterB!.kill('SIGKILL');
    // Events B sent before it died (the rest of its last look) still count; then the stream fails.
    let ended: unknown;
    while (ended === undefined) {
      try {
        seen.push(await onB.next());
      } catch (error) {
        ended = error;
      }
    }
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

  shared.scenario('--wait and tasks log --follow print every output line exactly once, in order', async (cluster) => {
    const release = join(cluster.sandbox, 'release-cli');
    const lines = numberedLines;
    await importCommands(a, 'cli-follow-app', [['talker', talkerScript(release)]]);
    const id = await createDeployment(a, 'cli-follow-app', '1.0.0', 'dev');

    const masterB = cluster.masters[1]!;
    // The scenario above leaves B killed.
    if (masterB.status !== undefined) await masterB.restart();
    const env = { SHIPDECK_SERVER: masterB.url, SHIPDECK_TOKEN: await adminToken(a) };
    const waitLog = new OutputLog();
    const followLog = new OutputLog();
    const wait = new ShipdeckProcess(['tasks', 'start', id, '--wait'], env, waitLog);
    await waitForTask(a, id, (t) => t.state !== 'PENDING');
    const follow = new ShipdeckProcess(['tasks', 'log', id, '1-1-1', '--follow'], env, followLog);
    try {
      await pollUntil(() => waitLog.has(/\| line-3$/) && followLog.has(/^line-3$/), {
        timeoutMs: 30_000,
        describe: () => `the CLI did not print line-3:\n${waitLog.text()}\n${followLog.text()}`,
      });
      expect(existsSync(release)).toBe(false);

      await masterB.kill('SIGKILL');
      writeFileSync(release, '');
      await waitForTask(a, id, ['EXECUTED']);
      await masterB.restart();

      const [waited, followed] = await Promise.all([wait.exited, follow.exited]);
      expect(waited.code).toBe(0);
      expect(followed.code).toBe(0);
    } finally {
      await Promise.all([wait.kill('SIGKILL'), follow.kill('SIGKILL')]);
    }

    const waitOut = stdoutLines(waitLog);
    expect(waitOut.filter((l) => /\| line-\d$/.test(l))).toEqual(lines(1, 6).map((l) => `    1-1-1 | ${l}`));
    expect(waitOut).toContain(`task ${id} EXECUTED`);
    expect(waitOut.filter((l) => l === `task ${id} EXECUTED`)).toHaveLength(1);
    expect(stdoutLines(followLog).filter((l) => /^line-\d$/.test(l))).toEqual(lines(1, 6));
    // Both lost the master and found it again on the same URL.
    for (const log of [waitLog, followLog]) {
      expect(stderrLines(log)).toEqual([`  (lost contact with Shipdeck at ${masterB.url}; retrying for up to 60s)`, '  (reconnected)']);
    }
  }, 120_000);
});

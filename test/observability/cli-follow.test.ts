/**
 * The CLI follows a task over its event stream (issue 15): `tasks start ID --wait` and
 * `tasks log ID PATH --follow`, both on master B of a 2-master cluster whose worker executes the
 * task, while master B is killed mid-step and started again. The CLI reopens the stream on the
 * same server URL with the last event id: every line of the step's output is printed exactly
 * once, in order.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireClusterPrerequisites } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { OutputLog } from '../support/output-log';
import { pollUntil } from '../support/poll';
import { adminToken, createDeployment, importCommands, localEnvironments } from '../support/rest-actions';
import { Api, waitForTask } from '../support/rest-client';
import { ShipdeckProcess } from '../support/shipdeck-process';

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

describe('the CLI following a task through a master that dies and comes back', () => {
  let a: Api;
  const shared = useCluster({ masters: 2, workers: 1 }, async (cluster) => {
    [a] = cluster.clients;
  });

  shared.scenario('--wait and tasks log --follow print every output line exactly once, in order', async (cluster) => {
    const release = join(cluster.sandbox, 'release-cli');
    const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line-${from + i}`);
    const script = [
      `for l in ${lines(1, 3).join(' ')}; do echo $l; done`,
      `i=0; while [ ! -f ${release} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`,
      `for l in ${lines(4, 6).join(' ')}; do echo $l; done`,
    ].join('; ');
    await localEnvironments(a, 'local-1', ['dev']);
    await importCommands(a, 'cli-follow-app', [['talker', script]]);
    const id = await createDeployment(a, 'cli-follow-app', '1.0.0', 'dev');

    const masterB = cluster.masters[1]!;
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

/**
 * The example package deployed to an `ssh` host through a real cluster: a `shipdeck master` and
 * a `shipdeck worker` process (PostgreSQL, RabbitMQ), the host defined through the REST API, the
 * files and commands landing on the "remote" machine as the SSH user (not as the worker's root),
 * every step of a task sharing one SSH connection, a control task run on the host, and a worker
 * SIGKILLed mid-step whose remote process is reported and ended when the recovered step runs again.
 *
 * Needs what test/ssh/ssh.test.ts needs (tools/ssh-test-server.sh) plus PostgreSQL and RabbitMQ.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TaskView } from '@shipdeck/tasks';
import type { Cluster } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { withProcessOutput } from '../support/output-log';
import { pollUntil } from '../support/poll';
import { createDeployment, putEnvironment, startTask } from '../support/rest-actions';
import { Api, expectStatus, waitForTask } from '../support/rest-client';
import { KeyPair, TEST_USER, TestSshd, generateKey, hasEnded, remoteDirectory, requireSshTestServer, testUserUid } from './sshd';

const REPO_ROOT = join(__dirname, '..', '..');
/** Each scenario waits for up to three tasks of up to 60 s each, so more than the harness's default. */
const SCENARIO_TIMEOUT_MS = 120_000;

let sshd: TestSshd | undefined;
let dir: string;
let remoteDir: string;
let key: KeyPair;
let client: Api;

// Registered before useCluster's: the SSH prerequisites fail the suite before a cluster starts.
beforeAll(async () => {
  requireSshTestServer();
  dir = mkdtempSync(join(tmpdir(), 'shipdeck-ssh-cluster-'));
  key = generateKey(dir, 'worker-key');
  remoteDir = remoteDirectory('shipdeck-ssh-remote-');
  sshd = await TestSshd.start({ authorizedKeys: [key.publicKey] });
}, 30_000);

afterAll(async () => {
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (remoteDir) rmSync(remoteDir, { recursive: true, force: true });
});

// Only built-in plugins (ssh among them): the ledger test plugin plays no part here.
const { scenario } = useCluster({ masters: 1, workers: 1, extraPlugins: [] }, async (cluster) => {
  client = cluster.clients[0];
});

/** A scenario body whose failure also carries the sshd's output (the cluster's is added by `scenario`). */
function withSshdOutput(body: (cluster: Cluster) => Promise<void>): (cluster: Cluster) => Promise<void> {
  return (cluster) => withProcessOutput(() => `sshd:\n${sshd?.output() ?? '(not started)'}`, () => body(cluster))();
}

/** Creates a task with `POST path`, starts it, waits until it executed, archives it; answers it as it executed. */
async function runTask(path: string, body: Record<string, unknown>): Promise<TaskView> {
  const { taskId } = expectStatus(await client.post<{ taskId: string }>(path, body), 201, `POST ${path}: `);
  await startTask(client, taskId);
  const task = await waitForTask(client, taskId, ['EXECUTED'], 60_000);
  expectStatus(await client.post(`/tasks/${taskId}/archive`), 200, `POST /tasks/${taskId}/archive: `);
  return task;
}

/** The log of a step (plain text; empty before the step logged anything). */
async function stepLog(taskId: string, path: string): Promise<string> {
  const response = await client.get<string>(`/tasks/${taskId}/steps/${path}/log`);
  expectStatus(response, 200, `GET /tasks/${taskId}/steps/${path}/log: `);
  return response.text;
}

scenario(
  'deploys, updates and undeploys the example package on an ssh host, one SSH login per task',
  withSshdOutput(async (c) => {
    const server = sshd as TestSshd;
    const appHome = join(remoteDir, 'petclinic');
    expectStatus(
      await client.put('/hosts/web-1', {
        type: 'ssh',
        properties: {
          address: '127.0.0.1',
          port: server.port,
          username: TEST_USER,
          privateKeyPath: key.privateKeyPath,
          hostKeyFingerprint: server.hostKey.fingerprint,
          allowedRoots: [remoteDir],
        },
      }),
      201,
      'PUT /hosts/web-1: ',
    );
    await putEnvironment(client, 'dev', ['web-1'], { APP_HOME: appHome, DB_URL: 'jdbc:postgresql://db/petclinic' });
    for (const version of ['1.0.0', '2.0.0']) {
      const yaml = readFileSync(join(REPO_ROOT, 'examples', 'petclinic', `${version}.yaml`), 'utf8');
      expectStatus(await client.post('/packages', yaml, { contentType: 'application/yaml' }), 201, `POST /packages (petclinic ${version}): `);
    }

    const check = await runTask('/control-tasks', { target: 'web-1', control: 'checkConnection' });
    expect(await stepLog(check.id, check.steps[0].path)).toMatch(/remote OS Linux .*, user shipdeck-ssh/);

    const initial = await runTask('/deployments', { application: 'petclinic', version: '1.0.0', environment: 'dev' });
    expect(initial.steps.map((s) => s.state)).toEqual(['DONE', 'DONE', 'DONE']);
    expect(readFileSync(join(appHome, 'app.conf'), 'utf8')).toContain('db.url=jdbc:postgresql://db/petclinic');
    expect(readFileSync(join(appHome, 'installed.txt'), 'utf8')).toBe('petclinic installed\n');
    // Written by the SSH user on the "remote" side, not by the worker (root) on its own machine.
    const uid = testUserUid();
    for (const file of ['app.conf', 'README.txt', 'installed.txt']) expect(statSync(join(appHome, file)).uid).toBe(uid);
    // Not stepOf(initial, 'app'): "app" also names the step of app-config.
    const app = initial.steps.filter((s) => s.description === 'Create app on web-1');
    expect(app).toHaveLength(1);
    expect(await stepLog(initial.id, app[0].path)).toContain('command succeeded');
    const update = await runTask('/deployments', { application: 'petclinic', version: '2.0.0', environment: 'dev' });
    expect(update.steps).toHaveLength(1);
    expect(update.steps[0].description).toBe('Modify app-config on web-1');
    expect(readFileSync(join(appHome, 'app.conf'), 'utf8')).toContain('db.pool.size=20');

    await runTask('/undeployments', { application: 'petclinic', environment: 'dev' });
    for (const file of ['app.conf', 'README.txt', 'installed.txt']) expect(existsSync(join(appHome, file))).toBe(false);
    // One worker, well within the idle timeout: the control task's connection served every step of the three tasks.
    expect(server.logins()).toBe(1);
    expect(c.workers).toHaveLength(1);
    expect(c.workers[0].status).toBeUndefined();
  }),
  SCENARIO_TIMEOUT_MS,
);

scenario(
  'fails a step on a host whose key does not match, naming both keys, and the worker carries on',
  withSshdOutput(async (c) => {
    const server = sshd as TestSshd;
    const wrong = generateKey(dir, 'not-the-host-key');
    expectStatus(
      await client.put('/hosts/web-2', {
        type: 'ssh',
        properties: { address: '127.0.0.1', port: server.port, username: TEST_USER, privateKeyPath: key.privateKeyPath, hostKeyFingerprint: wrong.fingerprint },
      }),
      201,
      'PUT /hosts/web-2: ',
    );
    const { taskId } = expectStatus(
      await client.post<{ taskId: string }>('/control-tasks', { target: 'web-2', control: 'checkConnection' }),
      201,
      'POST /control-tasks: ',
    );
    await startTask(client, taskId);
    const failed = await waitForTask(client, taskId, ['FAILED'], 60_000);
    expect(failed.steps[0].failure).toContain(`is ${server.hostKey.fingerprint} (ssh-ed25519), expected ${wrong.fingerprint}: refusing to connect`);
    expect(c.workers[0].status).toBeUndefined();
    const check = await runTask('/control-tasks', { target: 'web-1', control: 'checkConnection' });
    expect(check.steps.map((s) => s.state)).toEqual(['DONE']);
  }),
  SCENARIO_TIMEOUT_MS,
);

scenario(
  "a remote process left by a SIGKILLed worker is reported in the recovered step's log when the step runs again",
  withSshdOutput(async (c) => {
    const flag = join(remoteDir, 'crash-flag');
    // The first run starts a long command; the run after the recovery finds the flag and ends at once.
    const manifest = [
      'application: crashy',
      'version: "1.0.0"',
      'deployables:',
      '  - name: long',
      '    type: cmd.Command',
      `    create: 'if [ -e {{FLAG}} ]; then echo second-run; else touch {{FLAG}}; echo "shell $$"; sleep 1000; fi'`,
      '',
    ].join('\n');
    expectStatus(await client.post('/packages', manifest, { contentType: 'application/yaml' }), 201, 'POST /packages (crashy): ');
    await putEnvironment(client, 'crash', ['web-1'], { FLAG: flag });
    const taskId = await createDeployment(client, 'crashy', '1.0.0', 'crash');
    await startTask(client, taskId);
    let pid = 0;
    await pollUntil(
      async () => {
        const match = /shell (\d+)/.exec(await stepLog(taskId, '1-1-1'));
        pid = match ? Number(match[1]) : 0;
        return pid > 0;
      },
      { timeoutMs: 30_000, describe: () => 'the step never logged its shell pid' },
    );
    const worker = c.workers[0];
    expect(await worker.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(hasEnded(pid)).toBe(false);

    await c.restartWorker(worker);
    const recovered = await waitForTask(client, taskId, ['FAILED'], 60_000);
    expect(recovered.steps[0].state).toBe('FAILED');
    await startTask(client, taskId);
    await waitForTask(client, taskId, ['EXECUTED'], 60_000);
    const log = await stepLog(taskId, '1-1-1');
    expect(log).toContain(`an earlier run of this step left remote process group ${pid} running (its worker stopped without ending it); killed it`);
    expect(log).toContain('second-run');
    await pollUntil(() => hasEnded(pid), { timeoutMs: 10_000, describe: () => `the first run's remote process ${pid} is still running` });
  }),
  SCENARIO_TIMEOUT_MS,
);

/**
 * The example package deployed to an `ssh` host through a real cluster: a `shipdeck master` and
 * a `shipdeck worker` process (PostgreSQL, RabbitMQ), the host defined through the REST API, the
 * files and commands landing on the "remote" machine as the SSH user (not as the worker's root),
 * every step of a task sharing one SSH connection, a control task run on the host, and a worker
 * SIGKILLed mid-step whose remote process is reported and ended when the recovered step runs again.
 *
 * Needs what test/ssh/ssh.test.ts needs (tools/ssh-test-server.sh) plus PostgreSQL and RabbitMQ.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiResponse, TaskWire, api, summarize, waitForTask } from '../support/api';
import { pollUntil } from '../support/poll';
import { Cluster, withProcessOutput } from '../support/cluster';
import { RecoveryCluster, startRecoveryCluster } from '../support/recovery-kit';
import { KeyPair, TEST_USER, TestSshd, generateKey, hasEnded, requireSshTestServer } from './sshd';

jest.setTimeout(120_000);

const REPO_ROOT = join(__dirname, '..', '..');

let recovery: RecoveryCluster | undefined;
let cluster: Cluster | undefined;
let sshd: TestSshd | undefined;
let dir: string;
let remoteDir: string;
let key: KeyPair;

function expectStatus<T>(response: ApiResponse<T>, status: number): T {
  if (response.status !== status) throw new Error(`expected HTTP ${status}, got ${response.status}: ${response.text}`);
  return response.body;
}

async function runTask(path: string, body: Record<string, unknown>): Promise<TaskWire> {
  const client = api((cluster as Cluster).masters[0].url);
  const { taskId } = expectStatus(await client.post<{ taskId: string }>(path, body), 201);
  expectStatus(await client.post(`/tasks/${taskId}/start`), 200);
  const task = await waitForTask((cluster as Cluster).masters[0].url, taskId, ['EXECUTED'], 60_000);
  expectStatus(await client.post(`/tasks/${taskId}/archive`), 200);
  return task;
}

async function stepLog(taskId: string, path: string): Promise<string> {
  const response = await api((cluster as Cluster).masters[0].url).get<string>(`/tasks/${taskId}/steps/${path}/log`);
  return typeof response.body === 'string' ? response.body : response.text;
}

beforeAll(async () => {
  requireSshTestServer();
  dir = mkdtempSync(join(tmpdir(), 'shipdeck-ssh-cluster-'));
  key = generateKey(dir, 'worker-key');
  remoteDir = mkdtempSync(join(tmpdir(), 'shipdeck-ssh-remote-'));
  const uid = Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
  chownSync(remoteDir, uid, uid);
  sshd = await TestSshd.start({ authorizedKeys: [key.publicKey] });
  recovery = await startRecoveryCluster({ masters: 1, workers: 1, extraPlugins: [] });
  cluster = recovery.cluster;
});

afterAll(async () => {
  await recovery?.stop();
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (remoteDir) rmSync(remoteDir, { recursive: true, force: true });
});

it(
  'deploys, updates and undeploys the example package on an ssh host, one SSH login per task',
  withProcessOutput(
    () => `${cluster?.describe()}\nsshd:\n${sshd?.output()}`,
    async () => {
      const c = cluster as Cluster;
      const server = sshd as TestSshd;
      const client = api(c.masters[0].url);
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
      );
      expectStatus(
        await client.put('/environments/dev', { hosts: ['web-1'], dictionary: { APP_HOME: appHome, DB_URL: 'jdbc:postgresql://db/petclinic' } }),
        201,
      );
      for (const version of ['1.0.0', '2.0.0']) {
        const yaml = readFileSync(join(REPO_ROOT, 'examples', 'petclinic', `${version}.yaml`), 'utf8');
        expectStatus(await client.post('/packages', yaml, { contentType: 'application/yaml' }), 201);
      }

      const check = await runTask('/control-tasks', { target: 'web-1', control: 'checkConnection' });
      expect(await stepLog(check.id, check.steps[0].path)).toMatch(/remote OS Linux .*, user shipdeck-ssh/);

      const initial = await runTask('/deployments', { application: 'petclinic', version: '1.0.0', environment: 'dev' });
      expect(initial.steps.map((s) => s.state)).toEqual(['DONE', 'DONE', 'DONE']);
      expect(readFileSync(join(appHome, 'app.conf'), 'utf8')).toContain('db.url=jdbc:postgresql://db/petclinic');
      expect(readFileSync(join(appHome, 'installed.txt'), 'utf8')).toBe('petclinic installed\n');
      // Written by the SSH user on the "remote" side, not by the worker (root) on its own machine.
      const uid = Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
      for (const file of ['app.conf', 'README.txt', 'installed.txt']) expect(statSync(join(appHome, file)).uid).toBe(uid);
      const app = initial.steps.find((s) => s.description === 'Create app on web-1');
      expect(await stepLog(initial.id, (app as TaskWire['steps'][number]).path)).toContain('command succeeded');
      const update = await runTask('/deployments', { application: 'petclinic', version: '2.0.0', environment: 'dev' });
      expect(update.steps).toHaveLength(1);
      expect(update.steps[0].description).toBe('Modify app-config on web-1');
      expect(readFileSync(join(appHome, 'app.conf'), 'utf8')).toContain('db.pool.size=20');

      await runTask('/undeployments', { application: 'petclinic', environment: 'dev' });
      for (const file of ['app.conf', 'README.txt', 'installed.txt']) expect(existsSync(join(appHome, file))).toBe(false);
      // One worker, well within the idle timeout: the control task's connection served every step of the three tasks.
      expect(server.logins()).toBe(1);
      expect(c.workers[0].status).toBeUndefined();
    },
  ),
);

it('fails a step on a host whose key does not match, naming both keys, and the worker carries on', async () => {
  const c = cluster as Cluster;
  const server = sshd as TestSshd;
  const client = api(c.masters[0].url);
  const wrong = generateKey(dir, 'not-the-host-key');
  expectStatus(
    await client.put('/hosts/web-2', {
      type: 'ssh',
      properties: { address: '127.0.0.1', port: server.port, username: TEST_USER, privateKeyPath: key.privateKeyPath, hostKeyFingerprint: wrong.fingerprint },
    }),
    201,
  );
  const { taskId } = expectStatus(await client.post<{ taskId: string }>('/control-tasks', { target: 'web-2', control: 'checkConnection' }), 201);
  expectStatus(await client.post(`/tasks/${taskId}/start`), 200);
  const failed = await waitForTask(c.masters[0].url, taskId, ['FAILED'], 60_000);
  expect(failed.steps[0].failure).toContain(`is ${server.hostKey.fingerprint} (ssh-ed25519), expected ${wrong.fingerprint}: refusing to connect`);
  expect(c.workers[0].status).toBeUndefined();
  const check = await runTask('/control-tasks', { target: 'web-1', control: 'checkConnection' });
  expect(summarize(check)).toContain('EXECUTED');
});

it(
  'a remote process left by a SIGKILLed worker is reported in the recovered step\'s log when the step runs again',
  withProcessOutput(
    () => `${recovery?.describe()}\nsshd:\n${sshd?.output()}`,
    async () => {
      const rc = recovery as RecoveryCluster;
      const c = rc.cluster;
      const client = api(c.masters[0].url);
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
      expectStatus(await client.post('/packages', manifest, { contentType: 'application/yaml' }), 201);
      expectStatus(await client.put('/environments/crash', { hosts: ['web-1'], dictionary: { FLAG: flag } }), 201);
      const { taskId } = expectStatus(
        await client.post<{ taskId: string }>('/deployments', { application: 'crashy', version: '1.0.0', environment: 'crash' }),
        201,
      );
      expectStatus(await client.post(`/tasks/${taskId}/start`), 200);
      let pid = 0;
      await pollUntil(
        async () => {
          const match = /shell (\d+)/.exec(await stepLog(taskId, '1-1-1'));
          pid = match ? Number(match[1]) : 0;
          return pid > 0;
        },
        { timeoutMs: 30_000, describe: () => `the step never logged its shell pid: ${c.describe()}` },
      );
      const worker = c.workers[0];
      expect(await worker.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
      expect(hasEnded(pid)).toBe(false);

      await rc.restartWorker(worker);
      const recovered = await waitForTask(c.masters[0].url, taskId, ['FAILED'], 60_000);
      expect(recovered.steps[0].state).toBe('FAILED');
      expectStatus(await client.post(`/tasks/${taskId}/start`), 200);
      await waitForTask(c.masters[0].url, taskId, ['EXECUTED'], 60_000);
      const log = await stepLog(taskId, '1-1-1');
      expect(log).toContain(`an earlier run of this step left remote process group ${pid} running (its worker stopped without ending it); killed it`);
      expect(log).toContain('second-run');
      await pollUntil(() => hasEnded(pid), { timeoutMs: 10_000, describe: () => `the first run's remote process ${pid} is still running` });
    },
  ),
);

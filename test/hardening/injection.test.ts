/**
 * Issue 9: commands, files and URLs do only what the package says — on a real `shipdeck master`
 * with its in-process worker, through REST, the way an attacker with deployer rights would try.
 *
 * - a dictionary value full of shell syntax reaches the command as data;
 * - the command's environment has nothing of Shipdeck's (the master runs with SHIPDECK_DB_URL);
 * - file.File cannot leave the host's allowedRoots through a link, and refuses a host without any;
 * - http.Check refuses the worker's own loopback address (the master's API) by default.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMaster, type StandaloneMaster } from '../support/master-process';
import { ADMIN_PASSWORD, call as callApi, waitForState } from './client';

let master: StandaloneMaster;
let sandbox: string;
let outside: string;

const call = <T = unknown>(method: string, path: string, body?: unknown) => callApi<T>(master.url, method, path, body);

/** Imports a one-deployable package, deploys it to `env` and starts it; answers the task id. */
async function deploy(application: string, env: string, deployable: Record<string, unknown>): Promise<string> {
  const imported = await call('POST', '/packages', { application, version: '1.0.0', deployables: [deployable] });
  expect(imported.status).toBe(201);
  const created = await call<{ taskId: string }>('POST', '/deployments', { application, version: '1.0.0', environment: env });
  expect(created.status).toBe(201);
  const started = await call('POST', `/tasks/${created.body.taskId}/start`);
  expect(started.status).toBe(200);
  return created.body.taskId;
}

async function stepLog(taskId: string): Promise<string> {
  const log = await call<string>('GET', `/tasks/${taskId}/steps/1-1-1/log`);
  expect(log.status).toBe(200);
  return log.body;
}

beforeAll(async () => {
  sandbox = mkdtempSync(join(tmpdir(), 'shipdeck-hardening-'));
  outside = mkdtempSync(join(tmpdir(), 'shipdeck-outside-'));
  mkdirSync(join(sandbox, 'app'));
  symlinkSync(outside, join(sandbox, 'app', 'escape'));
  master = await startMaster({ env: { SHIPDECK_CLUSTER_SECRET: 'cluster-secret-do-not-leak-0123456789abcdef' } });
  const roots = { allowedRoots: [join(sandbox, 'app')] };
  expect((await call('PUT', '/hosts/local-1', { type: 'local', properties: roots })).status).toBe(201);
  expect((await call('PUT', '/hosts/bare-1', { type: 'local' })).status).toBe(201);
  const evil = `a; touch ${sandbox}/pwned1; echo "$(touch ${sandbox}/pwned2)" '\`touch ${sandbox}/pwned3\`'`;
  const dictionary = { EVIL: evil, APP: join(sandbox, 'app'), PORT: String(master.port) };
  expect((await call('PUT', '/environments/dev', { hosts: ['local-1'], dictionary })).status).toBe(201);
  expect((await call('PUT', '/environments/bare', { hosts: ['bare-1'], dictionary })).status).toBe(201);
}, 120_000);

afterAll(async () => {
  await master?.cleanup();
  for (const dir of [sandbox, outside]) if (dir) rmSync(dir, { recursive: true, force: true });
});

it('passes a hostile dictionary value to the command as data, in a minimal environment', async () => {
  const create = `echo "plain [{{EVIL}}]"; echo quoted '[{{EVIL}}]'; echo bare [{{EVIL}}]; env > ${sandbox}/env.txt`;
  const taskId = await deploy('inject', 'dev', { name: 'cmd', type: 'cmd.Command', create });
  const task = await waitForState(master.url, taskId, ['EXECUTED', 'FAILED']);
  expect(task.state).toBe('EXECUTED');
  for (const n of [1, 2, 3]) expect(existsSync(join(sandbox, `pwned${n}`))).toBe(false);
  const log = await stepLog(taskId);
  const evil = `a; touch ${sandbox}/pwned1; echo "$(touch ${sandbox}/pwned2)" '\`touch ${sandbox}/pwned3\`'`;
  expect(log).toContain(`plain [${evil}]\n`);
  expect(log).toContain(`quoted [${evil}]\n`);
  expect(log).toContain(`bare [${evil}]\n`);
  const env = readFileSync(join(sandbox, 'env.txt'), 'utf8');
  expect(env).not.toMatch(/SHIPDECK_(DB_URL|HOME|CLUSTER_SECRET|TASK_|ADMIN_PASSWORD)/);
  expect(env).not.toContain('cluster-secret-do-not-leak');
  expect(env).not.toContain(ADMIN_PASSWORD);
  expect(env).toContain('SHIPDECK_VALUE_EVIL=a; touch');
});

it('does not let file.File follow a link out of the allowed roots', async () => {
  const taskId = await deploy('escape', 'dev', { name: 'f', type: 'file.File', targetPath: '{{APP}}/escape/evil.conf', content: 'x' });
  const task = await waitForState(master.url, taskId, ['EXECUTED', 'FAILED']);
  expect(task.state).toBe('FAILED');
  expect(task.steps[0].failure).toContain('outside the host');
  expect(existsSync(join(outside, 'evil.conf'))).toBe(false);
});

it('refuses file.File on a host without allowedRoots', async () => {
  const taskId = await deploy('bare', 'bare', { name: 'f', type: 'file.File', targetPath: '{{APP}}/ok.conf', content: 'x' });
  const task = await waitForState(master.url, taskId, ['EXECUTED', 'FAILED']);
  expect(task.state).toBe('FAILED');
  expect(task.steps[0].failure).toContain('has no allowedRoots');
  expect(existsSync(join(sandbox, 'app', 'ok.conf'))).toBe(false);
});

it("refuses an http.Check of the worker's own loopback address at once", async () => {
  const url = 'http://127.0.0.1:{{PORT}}/health/live';
  const taskId = await deploy('ssrf', 'dev', { name: 'probe', type: 'http.Check', url, retries: 5, retryDelay: '1h' });
  const task = await waitForState(master.url, taskId, ['EXECUTED', 'FAILED']);
  expect(task.state).toBe('FAILED');
  expect(task.steps[0].failure).toContain('is a loopback address');
});

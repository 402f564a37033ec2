/**
 * Issue 9, secrets: on a real `shipdeck master` with its in-process worker, a secret dictionary
 * entry and an ssh host's password are stored encrypted (the raw database files never hold them),
 * every API answer masks them, the command that uses one really receives it while its step log
 * (the `$ …` line and the echoed output) shows the mask, the master's and worker's log output
 * (debug level) never holds it, and the key file and the other private files have private modes.
 * A broken key stops the master at start with one message (exit 78).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMasterToExit, startMaster, type StandaloneMaster } from '../support/master-process';
import { call as callApi, waitForState } from './client';

const SECRET = `s3cret-${randomUUID()}`;
const SSH_PASSWORD = `ssh-pw-${randomUUID()}`;
const MASK = '******';

let master: StandaloneMaster;
let sandbox: string;
/** Every API answer these tests read, to look for the secrets in all of them at the end. */
const answers: string[] = [];

async function call<T = unknown>(method: string, path: string, body?: unknown) {
  const answer = await callApi<T>(master.url, method, path, body);
  answers.push(answer.text);
  return answer;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

beforeAll(async () => {
  sandbox = mkdtempSync(join(tmpdir(), 'shipdeck-secrets-'));
  master = await startMaster();
}, 120_000);

afterAll(async () => {
  await master?.cleanup();
  if (sandbox) rmSync(sandbox, { recursive: true, force: true });
});

it('creates the key file with mode 0600 at the first start', () => {
  const keyFile = join(master.home, 'data', 'secrets.key');
  expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  expect(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64')).toHaveLength(32);
});

it('masks secret host properties and environment entries in every answer, for the admin too', async () => {
  expect((await call('PUT', '/hosts/local-1', { type: 'local', properties: { allowedRoots: [sandbox] } })).status).toBe(201);
  const ssh = { type: 'ssh', properties: { address: '192.0.2.1', username: 'deploy', password: SSH_PASSWORD } };
  const putSsh = await call<{ properties: Record<string, unknown> }>('PUT', '/hosts/ssh-1', ssh);
  expect(putSsh.status).toBe(201);
  expect(putSsh.body.properties).toEqual({ address: '192.0.2.1', username: 'deploy', password: MASK });
  const host = await call<{ properties: Record<string, unknown> }>('GET', '/hosts/ssh-1');
  expect(host.body.properties['password']).toBe(MASK);
  expect((await call('GET', '/hosts')).text).toContain(`"password":"${MASK}"`);

  const environment = { hosts: ['local-1'], dictionary: { OUT: sandbox }, secrets: { PW: SECRET } };
  const put = await call<{ secrets: Record<string, string> }>('PUT', '/environments/dev', environment);
  expect(put.status).toBe(201);
  expect(put.body.secrets).toEqual({ PW: MASK });
  const got = await call<{ dictionary: Record<string, string>; secrets: Record<string, string> }>('GET', '/environments/dev');
  expect(got.body).toMatchObject({ dictionary: { OUT: sandbox }, secrets: { PW: MASK } });
  // Sending the mask back keeps the stored value (checked by the deployment below).
  expect((await call('PUT', '/environments/dev', got.body)).status).toBe(200);
});

it('gives the command the secret and shows only the mask in previews, plans, step logs and logs', async () => {
  const create = `printf '%s' {{PW}} | sha256sum > {{OUT}}/digest; printf '%s' "$API_TOKEN" > {{OUT}}/token; echo "the password is {{PW}}"`;
  const deployable = { name: 'app', type: 'cmd.Command', create, env: { API_TOKEN: 'Bearer {{PW}}' } };
  expect((await call('POST', '/packages', { application: 'vault', version: '1.0.0', deployables: [deployable] })).status).toBe(201);
  const request = { application: 'vault', version: '1.0.0', environment: 'dev' };
  const preview = await call('POST', '/deployments/preview', request);
  expect(preview.status).toBe(200);
  expect(preview.text).toContain(MASK);

  const created = await call<{ taskId: string }>('POST', '/deployments', request);
  expect(created.status).toBe(201);
  expect((await call('POST', `/tasks/${created.body.taskId}/start`)).status).toBe(200);
  const task = await waitForState(master.url, created.body.taskId, ['EXECUTED', 'FAILED']);
  expect(task.state).toBe('EXECUTED');

  expect(readFileSync(join(sandbox, 'digest'), 'utf8').split(' ')[0]).toBe(sha256(SECRET));
  expect(readFileSync(join(sandbox, 'token'), 'utf8')).toBe(`Bearer ${SECRET}`);
  const log = await call<string>('GET', `/tasks/${created.body.taskId}/steps/1-1-1/log`);
  expect(log.status).toBe(200);
  expect(log.body).toContain(`the password is ${MASK}\n`);
  expect(log.body).toMatch(/^\$ .*SHIPDECK_VALUE_PW/m);
  await call('GET', `/tasks/${created.body.taskId}`);
  await call('GET', '/tasks');
  await call('GET', '/environments/dev/deployed');
  await call('GET', '/audit');
});

it('never shows a secret or its ciphertext in answers, logs or the database files', () => {
  for (const text of answers) {
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(SSH_PASSWORD);
    expect(text).not.toContain('<<sealed:');
  }
  const output = master.output();
  expect(output).toMatch(/listening on .* secretsKeyId=[0-9a-f]{8}/);
  expect(output).not.toContain(SECRET);
  expect(output).not.toContain(SSH_PASSWORD);
  for (const file of readdirSync(join(master.home, 'data'))) {
    const bytes = readFileSync(join(master.home, 'data', file));
    expect(bytes.includes(SECRET)).toBe(false);
    expect(bytes.includes(SSH_PASSWORD)).toBe(false);
  }
});

it('keeps the key file, the database and the work directory private', () => {
  for (const dir of ['data', 'work']) {
    const path = join(master.home, dir);
    expect([dir, statSync(path).mode & 0o777]).toEqual([dir, 0o700]);
    for (const entry of readdirSync(path, { recursive: true }) as string[]) {
      const stats = statSync(join(path, entry));
      expect([entry, stats.mode & 0o777]).toEqual([entry, stats.isDirectory() ? 0o700 : 0o600]);
    }
  }
});

it('fails a step whose secret another key sealed, saying so, and keeps running (the key from SHIPDECK_SECRETS_KEY)', async () => {
  const key = new Uint8Array(Buffer.from(readFileSync(join(master.home, 'data', 'secrets.key'), 'utf8').trim(), 'base64'));
  const fileKeyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  expect(master.output()).toContain(fileKeyId);
  await master.kill('SIGTERM');
  await master.restart({ SHIPDECK_SECRETS_KEY: randomBytes(32).toString('base64') });
  const create = `echo "changed {{PW}}"`;
  const imported = await call('POST', '/packages', { application: 'locked', version: '1.0.0', deployables: [{ name: 'app', type: 'cmd.Command', create }] });
  expect(imported.status).toBe(201);
  const created = await call<{ taskId: string }>('POST', '/deployments', { application: 'locked', version: '1.0.0', environment: 'dev' });
  expect(created.status).toBe(201);
  expect((await call('POST', `/tasks/${created.body.taskId}/start`)).status).toBe(200);
  const task = await waitForState(master.url, created.body.taskId, ['EXECUTED', 'FAILED']);
  expect(task.state).toBe('FAILED');
  expect(task.steps[0].failure).toMatch(
    new RegExp(`^cannot open the step's secrets: a secret was sealed with secrets key ${fileKeyId}, but this process has secrets key [0-9a-f]{8}: give every master and worker the same key`),
  );
  expect((await fetch(`${master.url}/health/live`)).status).toBe(200);
  expect(master.output()).not.toContain(SECRET);
});

describe('a broken secrets key stops the master at start with one clear message', () => {
  it.each([
    ['SHIPDECK_SECRETS_KEY', 'not-a-key-but-a-secret-0123456789'],
    ['SHIPDECK_SECRETS_KEY', Buffer.alloc(16, 7).toString('base64')],
  ])('%s of the wrong shape', async (name, value) => {
    const run = await runMasterToExit({ env: { [name]: value } });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain('secrets.key');
    expect(run.stderr).toContain('32 random bytes in base64');
    expect(run.stderr + run.stdout).not.toContain(value);
  });

  it('a key file without a key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shipdeck-badkey-'));
    try {
      const keyFile = join(dir, 'secrets.key');
      writeFileSync(keyFile, 'garbage that is not a key\n', { mode: 0o600 });
      const run = await runMasterToExit({ env: { SHIPDECK_SECRETS_KEY_FILE: keyFile } });
      expect(run.code).toBe(78);
      expect(run.stderr).toContain(`secrets.keyFile: ${keyFile} must be 32 random bytes in base64`);
      expect(run.stderr).not.toContain('garbage');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

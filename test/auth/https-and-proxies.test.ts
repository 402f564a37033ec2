/**
 * The REST port exposed without a proxy (`server.tls.*`: HTTPS only) and behind one
 * (`server.trustProxy`: whose X-Forwarded-For names the client), on real master processes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AuditEntry } from '@shipdeck/auth';
import { ADMIN_AUTHORIZATION, TEST_ADMIN_PASSWORD } from '../support/credentials';
import { httpsRequest, selfSignedCertificate } from '../support/https';
import { StandaloneMaster, cleanupAllMasters, runMasterToExit, startMaster } from '../support/master-process';
import { pollUntil } from '../support/poll';
import { runShipdeck } from '../support/shipdeck-process';
import { createUser, send, waitForAuditEntry } from './support';

jest.setTimeout(90_000);

let dir: string;
let tls: { certFile: string; keyFile: string };
let ca: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'shipdeck-https-'));
  tls = selfSignedCertificate(dir);
  ca = readFileSync(tls.certFile);
});

afterAll(async () => {
  await cleanupAllMasters();
  rmSync(dir, { recursive: true, force: true });
});

const TLS_ENV = () => ({ SHIPDECK_SERVER_TLS_CERT: tls.certFile, SHIPDECK_SERVER_TLS_KEY: tls.keyFile });
const wrongLogin = (username: string) => JSON.stringify({ username, password: 'not-the-password' });

describe('server.tls.*: HTTPS on the REST port', () => {
  let master: StandaloneMaster;
  beforeAll(async () => {
    master = await startMaster({ env: { ...TLS_ENV(), SHIPDECK_SERVER_TRUST_PROXY: '127.0.0.1' }, httpsCa: ca });
  });

  test('serves HTTPS only, says https:// at start, sets Secure cookies, and the CLI talks to it with NODE_EXTRA_CA_CERTS', async () => {
    expect(master.url).toMatch(/^https:/);
    expect(master.output()).toContain(`listening on https://127.0.0.1:${master.port}`);
    expect((await httpsRequest('GET', `${master.url}/health/ready`, ca)).status).toBe(200);

    // Plain HTTP on the same port gets no answer: the TLS server reads it as a broken handshake.
    await expect(fetch(`http://127.0.0.1:${master.port}/health/ready`, { signal: AbortSignal.timeout(5_000) })).rejects.toThrow();

    const login = await httpsRequest('POST', `${master.url}/api/v1/auth/login`, ca, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: TEST_ADMIN_PASSWORD }),
    });
    expect(login.status).toBe(200);
    expect(String(login.headers['set-cookie'])).toMatch(/shipdeck_session=.*; Secure/);

    const token = JSON.parse(
      (
        await httpsRequest('POST', `${master.url}/api/v1/tokens`, ca, {
          headers: { authorization: ADMIN_AUTHORIZATION, 'content-type': 'application/json' },
          body: JSON.stringify({ name: 'cli-https' }),
        })
      ).text,
    ) as { token: string };
    const cli = (extra: Record<string, string>) =>
      runShipdeck(['hosts', 'list', '--json', '--server', master.url], { env: { SHIPDECK_TOKEN: token.token, ...extra } });
    const trusted = await cli({ NODE_EXTRA_CA_CERTS: tls.certFile });
    expect({ code: trusted.code, stderr: trusted.stderr }).toEqual({ code: 0, stderr: '' });
    expect(JSON.parse(trusted.stdout)).toEqual([]);
    // Without the CA the CLI refuses the certificate and says what to do.
    const untrusted = await cli({});
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toContain('NODE_EXTRA_CA_CERTS');
  });

  test('server.trustProxy 127.0.0.1: the audit shows the forwarded client address, and each client has its own rate-limit bucket', async () => {
    const audit = async (): Promise<AuditEntry[]> => {
      const answer = await httpsRequest('GET', `${master.url}/api/v1/audit?limit=1000&user=ghost`, ca, { headers: { authorization: ADMIN_AUTHORIZATION } });
      return (JSON.parse(answer.text) as { items: AuditEntry[] }).items;
    };
    const statuses: number[] = [];
    for (let i = 1; i <= 8; i++) {
      const answer = await httpsRequest('POST', `${master.url}/api/v1/auth/login`, ca, {
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${i}` },
        body: wrongLogin('ghost'),
      });
      statuses.push(answer.status);
    }
    // 8 failures, but from 8 clients: none of them is limited (the limit is 5 per address and user).
    expect(statuses).toEqual(Array(8).fill(401));
    let entries: AuditEntry[] = [];
    await pollUntil(async () => (entries = await audit()).length === 8, { timeoutMs: 10_000, describe: () => JSON.stringify(entries) });
    expect(entries.map((e) => e.sourceIp).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => `198.51.100.${i}`).sort());
  });

  test('stops cleanly on SIGTERM, ending its HTTPS connections', async () => {
    const kept = httpsRequest('GET', `${master.url}/health/live`, ca, { headers: { connection: 'keep-alive' } });
    expect((await kept).status).toBe(200);
    expect(await master.kill('SIGTERM')).toEqual({ code: 0, signal: null });
  });
});

describe('server.trustProxy off (the default)', () => {
  test('a forged X-Forwarded-For changes neither the audit address nor the rate-limit bucket', async () => {
    const master = await startMaster();
    await createUser(master.url, 'mallory', 'viewer');
    const statuses: number[] = [];
    for (let i = 1; i <= 8 && !statuses.includes(429); i++) {
      const answer = await send(master.url, 'POST', '/api/v1/auth/login', {
        raw: { text: wrongLogin('mallory'), contentType: 'application/json' },
        headers: { 'x-forwarded-for': `203.0.113.${i}` },
      });
      statuses.push(answer.status);
    }
    // One bucket, the socket's address: limited after 5 failures although each claimed another address.
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const failed = await waitForAuditEntry(master.url, 'failed login of mallory', (e) => e.username === 'mallory' && e.outcome === 'failed');
    expect(failed.sourceIp).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });
});

describe('server.tls.* files that cannot be used stop the master at start (exit 78)', () => {
  test('a missing certificate file names server.tls.cert', async () => {
    const run = await runMasterToExit({ env: { ...TLS_ENV(), SHIPDECK_SERVER_TLS_CERT: join(dir, 'missing.pem') } });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain(`cannot read the HTTPS certificate file ${join(dir, 'missing.pem')} (server.tls.cert)`);
  });

  test('a key that does not match the certificate names both files', async () => {
    const other = selfSignedCertificate(mkdtempSync(join(dir, 'other-')));
    const run = await runMasterToExit({ env: { ...TLS_ENV(), SHIPDECK_SERVER_TLS_KEY: other.keyFile } });
    expect(run.code).toBe(78);
    expect(run.stderr).toContain(`the HTTPS files ${tls.certFile}, ${other.keyFile} are not a usable certificate and key`);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});

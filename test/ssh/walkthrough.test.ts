/**
 * The README's "Deploy to a machine over SSH" walkthrough, run as written: its `npx shipdeck`
 * commands, read from README.md, against a real embedded master and a real sshd
 * (tools/ssh-test-server.sh), with the README's variables bound to the test's machine. The files
 * must arrive on the "remote" side, written by the SSH user.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StandaloneMaster, cleanupAllMasters, startMaster } from '../support/master-process';
import { adminToken } from '../support/rest-actions';
import { REPO_ROOT, runShipdeck } from '../support/shipdeck-process';
import { KeyPair, TEST_USER, TestSshd, generateKey, remoteDirectory, requireSshTestServer, testUserUid } from './sshd';

jest.setTimeout(120_000);

/** The commands of the README section: `\`-continued lines joined, variables as written. */
function readmeWalkthrough(): { variables: string[]; commands: string[] } {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const section = readme.split('### Deploy to a machine over SSH')[1]?.split(/\n##+ /)[0];
  const block = section?.match(/```sh\n([\s\S]*?)```/)?.[1];
  if (!block) throw new Error('README.md has no sh block under "### Deploy to a machine over SSH"');
  const lines = block.replace(/\\\n\s*/g, '').split('\n');
  const variables = (lines.find((line) => /^[A-Z_]+=/.test(line)) ?? '').split(/\s+/).filter(Boolean).map((pair) => pair.split('=')[0]);
  return { variables, commands: lines.filter((line) => line.startsWith('npx shipdeck ')) };
}

let sshd: TestSshd | undefined;
let master: StandaloneMaster | undefined;
let dir: string;
let remoteDir: string;
let key: KeyPair;

beforeAll(async () => {
  requireSshTestServer();
  dir = mkdtempSync(join(tmpdir(), 'shipdeck-ssh-walkthrough-'));
  key = generateKey(dir, 'worker-key');
  remoteDir = remoteDirectory('shipdeck-ssh-walkthrough-remote-');
  [sshd, master] = await Promise.all([TestSshd.start({ authorizedKeys: [key.publicKey] }), startMaster()]);
});

afterAll(async () => {
  await cleanupAllMasters();
  await sshd?.stop();
  for (const path of [dir, remoteDir]) if (path) rmSync(path, { recursive: true, force: true });
});

test('the README walkthrough deploys the example package to an ssh host with CLI commands only', async () => {
  const server = sshd as TestSshd;
  const appHome = join(remoteDir, 'petclinic');
  const values: Record<string, string> = {
    SSH_HOST: '127.0.0.1',
    SSH_PORT: String(server.port),
    SSH_USER: TEST_USER,
    SSH_KEY: key.privateKeyPath,
    APP_HOME: appHome,
  };
  const { variables, commands } = readmeWalkthrough();
  expect(variables.sort()).toEqual(Object.keys(values).sort());
  expect(commands.length).toBeGreaterThanOrEqual(7);
  const env = { SHIPDECK_SERVER: master!.url, SHIPDECK_TOKEN: await adminToken(master!.url) };

  let presented: string | undefined;
  const transcript: string[] = [];
  for (const command of commands) {
    const line = command.replace(/\$([A-Z_]+)/g, (_, name: string) => values[name] ?? `$${name}`).replace('SHA256:…', () => presented ?? 'SHA256:…');
    const run = await runShipdeck(line.split(/\s+/).slice(2), { env, timeoutMs: 60_000 });
    transcript.push(`$ ${line}\n${run.stdout}${run.stderr}(exit ${run.code})`);
    if (run.code !== 0) throw new Error(`a walkthrough command failed:\n${transcript.join('\n')}\nsshd:\n${server.output()}`);
    presented ??= /presents host key (SHA256:[A-Za-z0-9+/]{43})/.exec(run.stdout)?.[1];
  }
  const output = transcript.join('\n');
  // The key shown is the server's, and it was recorded only after it was confirmed.
  expect(presented).toBe(server.hostKey.fingerprint);
  expect(output).toContain(`recorded ${server.hostKey.fingerprint} as the trusted key of 127.0.0.1:${server.port}`);
  expect(output).toMatch(/remote OS Linux .*, user shipdeck-ssh/);
  expect(output).toMatch(/task \S+ EXECUTED/);
  expect(output).toContain(`privateKeyPath: ${key.privateKeyPath}`);

  expect(readFileSync(join(appHome, 'app.conf'), 'utf8')).toContain('db.url=jdbc:postgresql://db/petclinic');
  expect(readFileSync(join(appHome, 'installed.txt'), 'utf8')).toBe('petclinic installed\n');
  const uid = testUserUid();
  for (const file of ['app.conf', 'README.txt', 'installed.txt']) expect(statSync(join(appHome, file)).uid).toBe(uid);
});

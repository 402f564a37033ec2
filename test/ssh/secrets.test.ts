/**
 * Issue 9 with issue 13: an ssh host's `privateKey` and `passphrase` as a master stores them
 * (sealed), opened by the worker's executors, log in to a real sshd; a remote `cmd.Command` gets a
 * secret placeholder's value while its streamed output shows the mask.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SecretBox } from '@shipdeck/domain';
import { withSecrets } from '@shipdeck/plugins';
import { KeyPair, TEST_USER, TestSshd, generateKey, requireSshTestServer } from './sshd';
import { TestStep, registry, sshConnections, sshStep } from './support';

jest.setTimeout(60_000);

const box = new SecretBox(new Uint8Array(randomBytes(32)));
const executors = withSecrets(registry.executorFor, box);
const run = (ctx: TestStep) => executors(ctx.step.ciType).execute(ctx);
const PASSPHRASE = `passphrase-${randomUUID()}`;
const SECRET = `remote-s3cret-${randomUUID()}`;

let dir: string;
let key: KeyPair;
let sshd: TestSshd;

/** A host as a master stores it: the key and its passphrase sealed. */
function sealedHost() {
  return {
    name: `sealed-${randomUUID().slice(0, 8)}`,
    properties: {
      address: '127.0.0.1',
      port: sshd.port,
      username: TEST_USER,
      privateKey: box.seal(readFileSync(key.privateKeyPath, 'utf8')),
      passphrase: box.seal(PASSPHRASE),
      hostKeyFingerprint: sshd.hostKey.fingerprint,
    },
  };
}

beforeAll(async () => {
  requireSshTestServer();
  dir = mkdtempSync(join(tmpdir(), 'shipdeck-ssh-secrets-'));
  key = generateKey(dir, 'sealed-user', PASSPHRASE);
  sshd = await TestSshd.start({ authorizedKeys: [key.publicKey] });
});

afterAll(async () => {
  sshConnections.close();
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

it('logs in with a sealed private key and passphrase, showing neither', async () => {
  const ctx = sshStep('host.ssh', 'checkConnection', {}, sealedHost(), dir);
  await run(ctx);
  expect(ctx.output()).toMatch(/user shipdeck-ssh\n/);
  expect(sshd.output()).toContain(`Accepted publickey for ${TEST_USER}`);
  expect(ctx.output()).not.toContain(PASSPHRASE);
  expect(ctx.output()).not.toContain('PRIVATE KEY');
});

it('gives a remote command the secret and masks it in the streamed output', async () => {
  const sealed = box.seal(SECRET);
  const create = `printf '%s' {{PW}} | sha256sum; echo "pw={{PW}}"`;
  const properties = registry.resolvePlaceholders('cmd.Command', { create }, (k) => (k === 'PW' ? sealed : undefined), 'app');
  const ctx = sshStep('cmd.Command', 'CREATE', properties, sealedHost(), dir);
  await run(ctx);
  const output = ctx.output();
  expect(output).toContain(createHash('sha256').update(SECRET).digest('hex'));
  expect(output).toContain('pw=******\n');
  expect(output).not.toContain(SECRET);
});

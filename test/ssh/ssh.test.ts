/**
 * The `ssh` host type against real OpenSSH servers started here (see ./sshd.ts): authentication,
 * host keys, jump host, sudo, remote commands (streaming, exit codes, abort), SFTP files, remote
 * HTTP checks, the connection pool (reuse, limit, idle close) and a server that vanishes mid-step.
 * The "remote" host is this machine, so the tests can look at remote files and processes directly.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../support/poll';
import { KeyPair, TEST_USER, TestSshd, generateKey, hasEnded, requireSshTestServer } from './sshd';
import { logShows, run, sshConnections, sshStep } from './support';

jest.setTimeout(60_000);

let dir: string;
let workDir: string;
/** A directory on the "remote" host the test user owns. */
let remoteDir: string;
let userKey: KeyPair;
let encryptedKey: KeyPair;
let password: string;
let sshd: TestSshd;
const uid = () => Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());

/** A host on the main sshd with a fresh name (so a fresh entry in the connection pool). */
function host(extra: Record<string, unknown> = {}, server: TestSshd = sshd) {
  return {
    name: `target-${randomUUID().slice(0, 8)}`,
    properties: {
      address: '127.0.0.1',
      port: server.port,
      username: TEST_USER,
      privateKeyPath: userKey.privateKeyPath,
      hostKeyFingerprint: server.hostKey.fingerprint,
      ...extra,
    },
  };
}

beforeAll(async () => {
  requireSshTestServer();
  dir = mkdtempSync(join(tmpdir(), 'shipdeck-ssh-test-'));
  workDir = join(dir, 'work');
  mkdirSync(workDir);
  userKey = generateKey(dir, 'user');
  encryptedKey = generateKey(dir, 'user-encrypted', 'key-passphrase');
  // A fresh password per run; the account gets '*' (no password) back in afterAll.
  password = randomUUID();
  execFileSync('chpasswd', { input: `${TEST_USER}:${password}\n` });
  remoteDir = mkdtempSync(join(tmpdir(), 'shipdeck-ssh-remote-'));
  chownSync(remoteDir, uid(), uid());
  sshd = await TestSshd.start({ authorizedKeys: [userKey.publicKey, encryptedKey.publicKey], passwordAuthentication: true });
});

afterAll(async () => {
  sshConnections.close();
  await sshd?.stop();
  execFileSync('usermod', ['-p', '*', TEST_USER]);
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (remoteDir) rmSync(remoteDir, { recursive: true, force: true });
});

describe('authentication and host keys', () => {
  it('logs in with a key file and checkConnection reports the remote OS and user', async () => {
    const target = host();
    const ctx = sshStep('host.ssh', 'checkConnection', {}, target, workDir);
    await run(ctx);
    expect(ctx.output()).toContain(`host key ${sshd.hostKey.fingerprint} (ssh-ed25519) verified`);
    expect(ctx.output()).toMatch(/remote OS Linux \S+ \(\S+\), user shipdeck-ssh\n/);
    expect(sshd.output()).toContain(`Accepted publickey for ${TEST_USER}`);
  });

  it('logs in with a key given as a value, encrypted with a passphrase', async () => {
    const target = host({
      privateKeyPath: undefined,
      privateKey: readFileSync(encryptedKey.privateKeyPath, 'utf8'),
      passphrase: 'key-passphrase',
    });
    const ctx = sshStep('host.ssh', 'checkConnection', {}, target, workDir);
    await run(ctx);
    expect(ctx.output()).toContain('user shipdeck-ssh');

    const wrong = sshStep('host.ssh', 'checkConnection', {}, host({ privateKeyPath: encryptedKey.privateKeyPath, passphrase: 'wrong-passphrase' }), workDir);
    const failure = run(wrong);
    await expect(failure).rejects.toThrow(`cannot use the private key for ${TEST_USER}@127.0.0.1:${sshd.port}`);
    await expect(failure).rejects.not.toThrow(/wrong-passphrase/);
  });

  it('logs in with a password, and a wrong one is refused without showing it', async () => {
    const before = (sshd.output().match(/Accepted password for/g) ?? []).length;
    const good = sshStep('host.ssh', 'checkConnection', {}, host({ privateKeyPath: undefined, password }), workDir);
    await run(good);
    expect(good.output()).toContain('user shipdeck-ssh');
    expect((sshd.output().match(/Accepted password for/g) ?? []).length).toBe(before + 1);

    const wrong = sshStep('host.ssh', 'checkConnection', {}, host({ privateKeyPath: undefined, password: 'not-the-password' }), workDir);
    const failure = run(wrong);
    await expect(failure).rejects.toThrow(`cannot log in to ${TEST_USER}@127.0.0.1:${sshd.port}: the server refused every configured authentication method`);
    await expect(failure).rejects.not.toThrow(/not-the-password/);
    expect(wrong.output()).not.toContain('not-the-password');
  });

  it('refuses a host whose key does not match the expected fingerprint, before logging in', async () => {
    const other = generateKey(dir, `other-${randomUUID().slice(0, 8)}`);
    const logins = sshd.logins();
    const ctx = sshStep('cmd.Command', 'CREATE', { create: 'touch should-not-run' }, host({ hostKeyFingerprint: other.fingerprint }), workDir);
    await expect(run(ctx)).rejects.toThrow(
      `host key of 127.0.0.1:${sshd.port} is ${sshd.hostKey.fingerprint} (ssh-ed25519), expected ${other.fingerprint}: refusing to connect`,
    );
    expect(sshd.logins()).toBe(logins);
  });

  it('refuses an unknown host key until trust-host-key has shown it and the operator confirmed it', async () => {
    const target = host({ hostKeyFingerprint: undefined });
    const trustDir = join(dir, `trust-${randomUUID().slice(0, 8)}`);
    mkdirSync(trustDir);
    const first = sshStep('host.ssh', 'checkConnection', {}, target, trustDir);
    await expect(run(first)).rejects.toThrow(`host key ${sshd.hostKey.fingerprint} (ssh-ed25519) of 127.0.0.1:${sshd.port} is not trusted`);

    const show = sshStep('host.ssh', 'trust-host-key', {}, target, trustDir);
    await run(show);
    expect(show.output()).toContain(`presents host key ${sshd.hostKey.fingerprint} (ssh-ed25519)`);
    expect(show.output()).toContain('nothing recorded');
    await expect(run(sshStep('host.ssh', 'checkConnection', {}, target, trustDir))).rejects.toThrow('is not trusted');

    const wrongConfirm = sshStep('host.ssh', 'trust-host-key', { fingerprint: generateKey(dir, `x-${randomUUID().slice(0, 8)}`).fingerprint }, target, trustDir);
    await expect(run(wrongConfirm)).rejects.toThrow('nothing recorded');

    const confirm = sshStep('host.ssh', 'trust-host-key', { fingerprint: sshd.hostKey.fingerprint }, target, trustDir);
    await run(confirm);
    expect(confirm.output()).toContain(`recorded ${sshd.hostKey.fingerprint}`);
    expect(statSync(join(trustDir, 'ssh-trusted-host-keys.json')).mode & 0o777).toBe(0o600);
    const after = sshStep('host.ssh', 'checkConnection', {}, target, trustDir);
    await run(after);
    expect(after.output()).toContain('user shipdeck-ssh');
  });

  it('goes through a jump host: both servers see a login', async () => {
    const jump = await TestSshd.start({ authorizedKeys: [userKey.publicKey] });
    try {
      const target = host({
        jumpHost: {
          address: '127.0.0.1',
          port: jump.port,
          username: TEST_USER,
          privateKeyPath: userKey.privateKeyPath,
          hostKeyFingerprint: jump.hostKey.fingerprint,
        },
      });
      const targetLogins = sshd.logins();
      const ctx = sshStep('host.ssh', 'checkConnection', {}, target, workDir);
      await run(ctx);
      expect(ctx.output()).toContain(`through 127.0.0.1:${jump.port}`);
      expect(jump.logins()).toBe(1);
      expect(sshd.logins()).toBe(targetLogins + 1);
      // The jump host's own key is checked too.
      const badJump = host({
        jumpHost: { address: '127.0.0.1', port: jump.port, username: TEST_USER, privateKeyPath: userKey.privateKeyPath, hostKeyFingerprint: sshd.hostKey.fingerprint },
      });
      await expect(run(sshStep('host.ssh', 'checkConnection', {}, badJump, workDir))).rejects.toThrow(
        `host key of 127.0.0.1:${jump.port} is ${jump.hostKey.fingerprint} (ssh-ed25519), expected ${sshd.hostKey.fingerprint}`,
      );
    } finally {
      sshConnections.close();
      await jump.stop();
    }
  });
});

describe('cmd.Command on an ssh host', () => {
  it('runs as the sudo user when the host has one', async () => {
    const target = host({ sudo: 'root' });
    const check = sshStep('host.ssh', 'checkConnection', {}, target, workDir);
    await run(check);
    expect(check.output()).toContain('sudo to root: runs as root');
    const ctx = sshStep('cmd.Command', 'CREATE', { create: 'echo "I am $(id -un)"' }, target, workDir);
    await run(ctx);
    expect(ctx.output()).toContain('I am root\n');
    expect(ctx.output()).toContain('as root (sudo from shipdeck-ssh)');
  });

  it('streams output into the step log while the command runs, and answers the exit code', async () => {
    const flag = join(remoteDir, `flag-${randomUUID()}`);
    const ctx = sshStep(
      'cmd.Command',
      'CREATE',
      { create: `echo first; echo to-stderr >&2; while [ ! -e ${flag} ]; do sleep 0.05; done; echo second` },
      host(),
      workDir,
    );
    const done = run(ctx);
    await logShows(ctx, 'first\n');
    await logShows(ctx, 'to-stderr\n');
    expect(ctx.output()).not.toMatch(/^second$/m);
    writeFileSync(flag, '');
    await done;
    expect(ctx.output()).toContain('second\ncommand succeeded\n');

    const failing = sshStep('cmd.Command', 'CREATE', { create: 'echo before; exit 3' }, host(), workDir);
    await expect(run(failing)).rejects.toThrow('command exited with code 3');
    expect(failing.output()).toContain('before\n');
  });

  it('passes cwd and env values as data, never as shell code', async () => {
    const marker = join(remoteDir, `injected-${randomUUID()}`);
    const hostile = `x'; touch ${marker}; echo '`;
    const ctx = sshStep(
      'cmd.Command',
      'CREATE',
      { create: 'printf "%s|" "$VALUE"; pwd', cwd: remoteDir, env: { VALUE: hostile } },
      host(),
      workDir,
    );
    await run(ctx);
    expect(ctx.output()).toContain(`${hostile}|${remoteDir}\n`);
    expect(existsSync(marker)).toBe(false);
  });

  it('abort kills the whole remote process tree, not only the channel', async () => {
    const ctx = sshStep(
      'cmd.Command',
      'CREATE',
      { create: 'sleep 1000 & echo "child $!"; sh -c "sleep 1000" & echo "grandchild-shell $!"; echo "shell $$"; wait' },
      host(),
      workDir,
    );
    const done = run(ctx);
    // The shell's own line comes last (`grandchild-shell N` alone must not end the wait).
    await logShows(ctx, /^shell \d+\n/m);
    const pids = [...ctx.output().matchAll(/(?:child|grandchild-shell|shell) (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(3);
    expect(pids.every((pid) => !hasEnded(pid))).toBe(true);
    ctx.controller.abort();
    await expect(done).rejects.toThrow('aborted');
    await pollUntil(() => pids.every(hasEnded), {
      timeoutMs: 10_000,
      describe: () => `remote processes still running: ${pids.filter((pid) => !hasEnded(pid)).join(', ')}`,
    });
  });

  it('background children die when the command exits, as locally', async () => {
    const ctx = sshStep('cmd.Command', 'CREATE', { create: 'sleep 1000 & echo "child $!"' }, host(), workDir);
    await run(ctx);
    const pid = Number(/child (\d+)/.exec(ctx.output())?.[1]);
    await pollUntil(() => hasEnded(pid), { timeoutMs: 10_000, describe: () => `background child ${pid} still running` });
  });

  it('a command timeout kills the remote command', async () => {
    const ctx = sshStep('cmd.Command', 'CREATE', { create: 'echo "shell $$"; sleep 1000', timeout: '1s' }, host(), workDir);
    await expect(run(ctx)).rejects.toThrow('timed out after 1s');
    const pid = Number(/shell (\d+)/.exec(ctx.output())?.[1]);
    await pollUntil(() => hasEnded(pid), { timeoutMs: 10_000, describe: () => `remote shell ${pid} still running` });
  });
});

describe('file.File on an ssh host', () => {
  it('uploads through a temporary name, replaces atomically with mode, and DESTROY removes it', async () => {
    const target = host();
    const path = join(remoteDir, 'app', 'conf', 'app.properties');
    const create = sshStep('file.File', 'CREATE', { targetPath: path, content: 'a=1\n', mode: '0640' }, target, workDir);
    await run(create);
    expect(readFileSync(path, 'utf8')).toBe('a=1\n');
    const first = statSync(path);
    expect(first.mode & 0o777).toBe(0o640);
    expect(first.uid).toBe(uid());
    expect(create.output()).toContain(`wrote 4 bytes to ${path} on ${target.name} (mode 0640)`);

    const modify = sshStep('file.File', 'MODIFY', { targetPath: path, content: 'a=2\nb=3\n', mode: '0600' }, target, workDir);
    await run(modify);
    expect(readFileSync(path, 'utf8')).toBe('a=2\nb=3\n');
    const second = statSync(path);
    expect(second.mode & 0o777).toBe(0o600);
    // A rename puts a new inode in place; an in-place write would keep the old one.
    expect(second.ino).not.toBe(first.ino);
    expect(execFileSync('ls', ['-A', join(remoteDir, 'app', 'conf')], { encoding: 'utf8' })).toBe('app.properties\n');

    const destroy = sshStep('file.File', 'DESTROY', { targetPath: path, content: 'a=2\nb=3\n' }, target, workDir);
    await run(destroy);
    expect(existsSync(path)).toBe(false);
    const again = sshStep('file.File', 'DESTROY', { targetPath: path, content: '' }, target, workDir);
    await run(again);
    expect(again.output()).toContain('does not exist');
  });

  it('sets the owner through sudo', async () => {
    const path = join(remoteDir, `owned-${randomUUID().slice(0, 8)}`);
    await run(sshStep('file.File', 'CREATE', { targetPath: path, content: 'x', owner: 'root:root' }, host({ sudo: 'root' }), workDir));
    expect(statSync(path).uid).toBe(0);
  });

  it('applies the host allowed roots on the remote side, symlinks and .. included', async () => {
    const root = join(remoteDir, `root-${randomUUID().slice(0, 8)}`);
    const outside = join(remoteDir, `outside-${randomUUID().slice(0, 8)}`);
    mkdirSync(root);
    mkdirSync(outside);
    chownSync(root, uid(), uid());
    chownSync(outside, uid(), uid());
    symlinkSync(outside, join(root, 'escape'));
    const target = host({ allowedRoots: [root] });
    await run(sshStep('file.File', 'CREATE', { targetPath: join(root, 'ok', 'inside.txt'), content: 'in' }, target, workDir));
    expect(readFileSync(join(root, 'ok', 'inside.txt'), 'utf8')).toBe('in');
    for (const path of [join(outside, 'x.txt'), `${root}/../${outside.split('/').pop()}/y.txt`, join(root, 'escape', 'z.txt')]) {
      await expect(run(sshStep('file.File', 'CREATE', { targetPath: path, content: 'no' }, target, workDir))).rejects.toThrow(
        "outside the host's allowed roots",
      );
      await expect(run(sshStep('file.File', 'DESTROY', { targetPath: path, content: 'no' }, target, workDir))).rejects.toThrow(
        "outside the host's allowed roots",
      );
    }
    expect(execFileSync('ls', ['-A', outside], { encoding: 'utf8' })).toBe('');
  });
});

describe('http.Check from the target', () => {
  let server: Server;
  let port: number;
  const seen: string[] = [];
  beforeAll(async () => {
    server = createServer((request, response) => {
      seen.push(request.url ?? '');
      response.statusCode = request.url === '/ready' ? 200 : 503;
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('GETs through a connection the remote host opens', async () => {
    const ctx = sshStep('http.Check', 'CREATE', { url: `http://127.0.0.1:${port}/ready`, from: 'target' }, host(), workDir);
    await run(ctx);
    expect(ctx.output()).toMatch(/attempt 1\/6 from target-\w+: GET .*\/ready → 200/);
    expect(seen).toContain('/ready');

    const failing = sshStep('http.Check', 'CREATE', { url: `http://127.0.0.1:${port}/down`, from: 'target', retries: 1, retryDelay: '10ms' }, host(), workDir);
    await expect(run(failing)).rejects.toThrow(/did not answer 200 from target-\w+ in 2 attempt\(s\); last: 503/);
  });

  it('reports what the remote host could not reach', async () => {
    const noForwarding = await TestSshd.start({ authorizedKeys: [userKey.publicKey], extraConfig: ['AllowTcpForwarding no'] });
    try {
      const ctx = sshStep('http.Check', 'CREATE', { url: `http://127.0.0.1:${port}/ready`, from: 'target', retries: 0 }, host({}, noForwarding), workDir);
      await expect(run(ctx)).rejects.toThrow(/last: target-\w+ cannot connect to 127\.0\.0\.1:\d+/);
    } finally {
      sshConnections.close();
      await noForwarding.stop();
    }
  });
});

describe('a run cut off by a lost connection', () => {
  it('the next run of the same step reports the remote process the lost run left and ends it', async () => {
    const server = await TestSshd.start({ authorizedKeys: [userKey.publicKey] });
    try {
      const target = host({}, server);
      const taskId = `task-${randomUUID()}`;
      const first = sshStep('cmd.Command', 'CREATE', { create: 'echo "shell $$"; sleep 1000' }, target, workDir, taskId);
      const done = run(first);
      await logShows(first, /shell \d+\n/);
      const pid = Number(/shell (\d+)/.exec(first.output())?.[1]);
      server.killSessions();
      await expect(done).rejects.toThrow(`lost the connection to ${target.name} while the command ran`);
      // Nothing could end it: the worker side lost its connection, as a SIGKILLed worker would.
      expect(hasEnded(pid)).toBe(false);

      const retry = sshStep('cmd.Command', 'CREATE', { create: 'echo again' }, target, workDir, taskId);
      await run(retry);
      expect(retry.output()).toContain(`an earlier run of this step left remote process group ${pid} running (its worker stopped without ending it); killed it`);
      expect(retry.output()).toContain('again\n');
      await pollUntil(() => hasEnded(pid), { timeoutMs: 10_000, describe: () => `the lost run's process ${pid} is still running` });

      // A normal run leaves no marker behind: a third run has nothing to report.
      const third = sshStep('cmd.Command', 'CREATE', { create: 'true' }, target, workDir, taskId);
      await run(third);
      expect(third.output()).not.toContain('earlier run');
    } finally {
      sshConnections.close();
      await server.stop();
    }
  });
});

describe('the connection pool', () => {
  it('reuses one connection for the steps of a task', async () => {
    const target = host();
    const logins = sshd.logins();
    const handshakes = sshConnections.handshakes;
    for (let i = 0; i < 5; i++) {
      await run(sshStep('cmd.Command', 'CREATE', { create: `echo step ${i}` }, target, workDir));
      await run(sshStep('file.File', 'CREATE', { targetPath: join(remoteDir, `reuse-${i}`), content: `${i}` }, target, workDir));
    }
    expect(sshd.logins()).toBe(logins + 1);
    expect(sshConnections.handshakes).toBe(handshakes + 1);
  });

  it('closes a connection left idle', async () => {
    const target = host({ idleTimeout: '200ms' });
    const disconnects = sshd.disconnects();
    await run(sshStep('cmd.Command', 'CREATE', { create: 'true' }, target, workDir));
    await pollUntil(() => sshd.disconnects() > disconnects, { timeoutMs: 10_000, describe: () => `no disconnect in ${sshd.output()}` });
  });

  it('an idle connection does not keep the worker process alive', async () => {
    const target = host({ idleTimeout: '10m' });
    const logins = sshd.logins();
    const child = spawn(
      process.execPath,
      ['-r', 'esbuild-register', '-r', 'tsconfig-paths/register', join(__dirname, 'fixtures', 'run-step.ts'),
        JSON.stringify({ target: { ...target, type: 'ssh' }, ciType: 'cmd.Command', operation: 'CREATE', properties: { create: 'echo remote-ok' }, workDir })],
      { cwd: join(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exit: number | null | undefined;
    child.on('exit', (code) => (exit = code));
    try {
      // Far shorter than the 10 minutes the connection may stay idle in the pool.
      await pollUntil(() => exit !== undefined, { timeoutMs: 20_000, describe: () => `the process did not exit: ${output}` });
    } finally {
      if (exit === undefined) child.kill('SIGKILL');
    }
    expect(output).toContain('remote-ok\n');
    expect(output).toContain('step done\n');
    expect(exit).toBe(0);
    expect(sshd.logins()).toBe(logins + 1);
  });

  it('keeps to the per-host connection limit: a second step waits for the first', async () => {
    const target = host({ maxConnections: 1 });
    const flag = join(remoteDir, `limit-${randomUUID()}`);
    const logins = sshd.logins();
    const first = sshStep('cmd.Command', 'CREATE', { create: `echo first-running; while [ ! -e ${flag} ]; do sleep 0.05; done` }, target, workDir);
    const second = sshStep('cmd.Command', 'CREATE', { create: 'echo second-running' }, target, workDir);
    const firstDone = run(first);
    await logShows(first, 'first-running');
    const secondDone = run(second);
    await logShows(second, `waiting for a free connection to ${target.name} (at most 1 at once)`);
    expect(second.output()).not.toContain('second-running');
    writeFileSync(flag, '');
    await firstDone;
    await secondDone;
    expect(second.output()).toContain('second-running');
    expect(sshd.logins()).toBe(logins + 1);
  });

  it('fails the step with a clear message when the server goes away mid-step, and the next step reconnects', async () => {
    const server = await TestSshd.start({ authorizedKeys: [userKey.publicKey] });
    const target = host({ connectTimeout: '5s' }, server);
    const ctx = sshStep('cmd.Command', 'CREATE', { create: 'echo started; sleep 1000' }, target, workDir);
    const done = run(ctx);
    await logShows(ctx, 'started\n');
    await server.kill();
    await expect(done).rejects.toThrow(`lost the connection to ${target.name} while the command ran`);
    // The pool dropped the dead connection: the next step tries a new one and says why it cannot.
    const next = sshStep('cmd.Command', 'CREATE', { create: 'true' }, target, workDir);
    await expect(run(next)).rejects.toThrow(`cannot connect to ${TEST_USER}@127.0.0.1:${server.port}: connect ECONNREFUSED`);
    // Other hosts are unaffected.
    await run(sshStep('cmd.Command', 'CREATE', { create: 'true' }, host(), workDir));
    await server.stop();
  });
});

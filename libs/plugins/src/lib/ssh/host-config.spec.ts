import { spawnSync } from 'node:child_process';
import { readSshHost, sshHostConfig } from './host-config';
import { fingerprintOf, keyTypeOf } from './host-keys';
import { remoteScript, shellQuote, stepMarker } from './remote-shell';

const minimal = { address: 'web-1.example', username: 'deploy', privateKeyPath: '/etc/shipdeck/id_ed25519' };

describe('ssh host properties', () => {
  it('applies the defaults', () => {
    expect(sshHostConfig('web-1', minimal)).toEqual({
      ...minimal,
      port: 22,
      connectTimeoutMs: 20_000,
      idleTimeoutMs: 60_000,
      maxConnections: 4,
      commandTimeoutMs: undefined,
      hostKeyFingerprint: undefined,
      passphrase: undefined,
      password: undefined,
      privateKey: undefined,
      sudo: undefined,
    });
  });

  it('reads every property, the jump host and the allowed roots', () => {
    const { config, errors } = readSshHost(
      {
        ...minimal,
        port: '2222',
        hostKeyFingerprint: 'SHA256:A+pjXBlR6elMFiQ4rewMbhviJX/BpXfz/PV2ultOPlM',
        sudo: 'root',
        connectTimeout: '5s',
        commandTimeout: '10m',
        idleTimeout: 30,
        maxConnections: 2,
        allowedRoots: ['/opt/app', '/etc/app'],
        jumpHost: { address: 'bastion', username: 'jump', password: 'j' },
      },
      'properties',
      false,
    );
    expect(errors).toEqual([]);
    expect(config).toMatchObject({
      port: 2222,
      sudo: 'root',
      connectTimeoutMs: 5_000,
      commandTimeoutMs: 600_000,
      idleTimeoutMs: 30_000,
      maxConnections: 2,
      allowedRoots: ['/opt/app', '/etc/app'],
      jumpHost: { address: 'bastion', port: 22, username: 'jump', password: 'j' },
    });
  });

  it('names each bad field and never repeats a secret', () => {
    const { errors } = readSshHost(
      {
        address: 'a',
        username: 'u',
        privateKey: 'KEY',
        privateKeyPath: '/k',
        password: 424242,
        hostKeyFingerprint: 'MD5:secretish',
        sudo: 'root; rm -rf /',
        maxConnections: 0,
        allowedRoots: ['relative'],
        jumpHost: { address: 'b', username: 'j', passphrase: 989898 },
        adress: 'typo',
      },
      'properties',
      false,
    );
    expect(errors.map((e) => e.field).sort()).toEqual(
      [
        'properties.adress',
        'properties.allowedRoots',
        'properties.hostKeyFingerprint',
        'properties.jumpHost.passphrase',
        'properties.jumpHost.privateKeyPath',
        'properties.maxConnections',
        'properties.password',
        'properties.privateKey',
        'properties.sudo',
      ].sort(),
    );
    const text = JSON.stringify(errors);
    for (const secret of ['424242', '989898', 'KEY', 'secretish']) expect(text).not.toContain(secret);
  });

  it('lets placeholders pass format checks when lenient', () => {
    expect(readSshHost({ ...minimal, port: '{{SSH_PORT}}', hostKeyFingerprint: '{{FP}}' }, '', true).errors).toEqual([]);
    expect(readSshHost({ ...minimal, hostKeyFingerprint: '{{FP}}' }, '', false).errors).toHaveLength(1);
  });

  it('refuses invalid properties at execution with every problem and no value', () => {
    expect(() => sshHostConfig('web-1', { address: 'a', password: 7 })).toThrow(
      'invalid properties of ssh host web-1: password must be a string; username is required',
    );
  });
});

describe('host key fingerprints', () => {
  it('match what ssh-keygen -lf prints', () => {
    const blob = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIPwn/4pP2812RZ8TfUYP8F9ZhG+98ieeKU2nt8xcRuW2', 'base64');
    expect(fingerprintOf(blob)).toBe('SHA256:A+pjXBlR6elMFiQ4rewMbhviJX/BpXfz/PV2ultOPlM');
    expect(keyTypeOf(blob)).toBe('ssh-ed25519');
  });
});

describe('the remote wrapper script', () => {
  /** Runs the script with the local /bin/sh, as the remote login shell would. */
  function runLocally(script: string): { stdout: string; stderr: string; status: number | null } {
    const result = spawnSync('/bin/sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/nonexistent' } });
    return { stdout: result.stdout, stderr: result.stderr, status: result.status };
  }

  it('quotes any value as one word', () => {
    for (const value of ["it's", '$(id)', '`id`', '"; id; "', 'a\nb', '\\', '']) {
      expect(runLocally(`printf %s ${shellQuote(value)}`).stdout).toBe(value);
    }
  });

  it('prints the process group first, then runs the command with env and cwd as data', () => {
    const hostile = "'; echo INJECTED; '";
    const { stdout, status } = runLocally(
      remoteScript({ command: 'printf "%s|" "$V"; pwd; exit 7', cwd: '/tmp', env: { V: hostile }, signal: new AbortController().signal, log: () => undefined }),
    );
    expect(status).toBe(7);
    expect(stdout).toMatch(new RegExp(`^shipdeck-pgid \\d+\\n${hostile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\|/tmp\\n$`));
  });

  it('refuses an environment name that is not a shell identifier', () => {
    expect(() => remoteScript({ command: 'true', env: { 'A;B': 'x' }, signal: new AbortController().signal, log: () => undefined })).toThrow(
      'environment variable name "A;B" is not a shell identifier',
    );
  });

  it('makes step markers that no shell or path interprets', () => {
    expect(stepMarker('task-1', '1-2-3')).toBe('task-1_1-2-3');
    // One file name: no slash, so it cannot leave the marker directory.
    expect(stepMarker('../$(x)', '1')).toBe('..___x__1');
  });
});

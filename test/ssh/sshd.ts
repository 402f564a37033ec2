/**
 * A real OpenSSH server for the SSH tests: `sshd -D -e -f <generated config>` on a free loopback
 * port, with its own generated host key, logging to a buffer the tests read (accepted logins,
 * disconnects). Needs root and Debian's openssh-server plus the test user, both set up by
 * tools/ssh-test-server.sh (run by tools/prepare-services.sh).
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pollUntil } from '../support/poll';

/** The unprivileged login user tools/ssh-test-server.sh creates (with password-less sudo). */
export const TEST_USER = process.env.SHIPDECK_SSH_TEST_USER ?? 'shipdeck-ssh';
const SSHD = '/usr/sbin/sshd';

/** The uid of {@link TEST_USER}. */
export function testUserUid(): number {
  return Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
}

/** A fresh directory under the system's temporary directory owned by {@link TEST_USER}: the "remote" side of a test. */
export function remoteDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chownSync(dir, testUserUid(), testUserUid());
  return dir;
}

/** Fails at once, saying what to run, when this machine cannot run the SSH tests. */
export function requireSshTestServer(): void {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('the SSH tests run sshd and must run as root');
  if (!existsSync(SSHD)) problems.push(`${SSHD} is missing`);
  try {
    execFileSync('id', [TEST_USER], { stdio: 'ignore' });
  } catch {
    problems.push(`user ${TEST_USER} does not exist`);
  }
  if (problems.length > 0) throw new Error(`${problems.join('; ')}: run tools/ssh-test-server.sh as root`);
  // /run may be a fresh tmpfs; sshd refuses to start without its privilege separation directory.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
}

/** A key pair made with ssh-keygen; `fingerprint` as `ssh-keygen -lf` prints it. */
export interface KeyPair {
  privateKeyPath: string;
  publicKey: string;
  fingerprint: string;
}

/** Generates an ed25519 key pair in `dir` (optionally encrypted with `passphrase`). */
export function generateKey(dir: string, name: string, passphrase = ''): KeyPair {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', name, '-f', path]);
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], { encoding: 'utf8' }).split(' ')[1];
  return { privateKeyPath: path, publicKey: readFileSync(`${path}.pub`, 'utf8'), fingerprint };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Every process descended from `pid`, from /proc (the sshd session processes and what they run). */
/** The process group of `pid`, from /proc; undefined when it is gone. */
function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return undefined;
  }
}

export function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const walk = (parent: number) => {
    for (const child of children.get(parent) ?? []) {
      found.push(child);
      walk(child);
    }
  };
  walk(pid);
  return found;
}

/**
 * Whether a process has ended: `kill(pid, 0)` failing with ESRCH, or a zombie (ended, waiting
 * for a parent that may never reap it in a container).
 */
export function hasEnded(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return true;
  }
}

export interface SshdOptions {
  /** Public keys allowed to log in as the test user. */
  authorizedKeys: string[];
  passwordAuthentication?: boolean;
  /** sshd_config lines that win over the defaults. */
  extraConfig?: string[];
}

/** One running sshd. */
export class TestSshd {
  private log = '';

  private constructor(
    readonly dir: string,
    readonly port: number,
    readonly hostKey: KeyPair,
    private readonly child: ChildProcess,
  ) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (text: string) => (this.log += text));
  }

  /** Starts sshd and resolves once it accepts TCP connections. */
  static async start(options: SshdOptions): Promise<TestSshd> {
    const dir = mkdtempSync(join(tmpdir(), 'shipdeck-sshd-'));
    // sshd reads authorized_keys as the test user: the directory and file must be readable by it.
    chmodSync(dir, 0o755);
    const hostKey = generateKey(dir, 'host_ed25519');
    const authorized = join(dir, 'authorized_keys');
    writeFileSync(authorized, options.authorizedKeys.join(''), { mode: 0o644 });
    const port = await freePort();
    // sshd keeps the first value it reads for a keyword: the test's own lines go first.
    const config = [
      ...(options.extraConfig ?? []),
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey.privateKeyPath}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorized}`,
      'StrictModes no',
      'UsePAM no',
      `PasswordAuthentication ${options.passwordAuthentication ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin no',
      `AllowUsers ${TEST_USER}`,
      'AllowTcpForwarding yes',
      'LogLevel VERBOSE',
      'MaxStartups 100',
      'Subsystem sftp internal-sftp',
    ];
    const configPath = join(dir, 'sshd_config');
    writeFileSync(configPath, `${config.join('\n')}\n`);
    const child = spawn(SSHD, ['-D', '-e', '-f', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    const sshd = new TestSshd(dir, port, hostKey, child);
    let exited = false;
    child.once('exit', () => (exited = true));
    await pollUntil(
      async () => {
        if (exited) throw new Error(`sshd exited at start: ${sshd.log}`);
        return sshd.accepts();
      },
      { timeoutMs: 10_000, intervalMs: 50, describe: () => `sshd did not listen on port ${port}: ${sshd.log}` },
    );
    return sshd;
  }

  private accepts(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: this.port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  /** Everything sshd logged so far. */
  output(): string {
    return this.log;
  }

  /** Successful logins so far (one per SSH handshake that authenticated). */
  logins(): number {
    return (this.log.match(/^Accepted (publickey|password) for /gm) ?? []).length;
  }

  /** Connections closed so far, by either side. */
  disconnects(): number {
    return (this.log.match(/^(Received disconnect from|Connection closed by|Disconnected from user)/gm) ?? []).length;
  }

  /**
   * Cuts every open connection as a network failure or a killed client would (SIGKILL to the
   * per-connection sshd processes); the server keeps listening and what the sessions started
   * keeps running.
   */
  killSessions(): void {
    for (const pid of descendants(this.pid)) {
      let comm = '';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        continue;
      }
      if (comm !== 'sshd') continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /**
   * Makes the server vanish as a crashed machine would: SIGKILL to sshd, its session processes and
   * everything they run.
   */
  async kill(): Promise<void> {
    const all = [this.pid, ...descendants(this.pid)];
    // Whole process groups too: a command may fork after the list was taken (its group is the
    // session's the wrapper made). Never the test runner's own group, which sshd itself is in.
    const own = processGroupOf(process.pid);
    const groups = new Set(all.map(processGroupOf).filter((group): group is number => group !== undefined && group !== own));
    for (const target of [...all, ...[...groups].map((group) => -group)]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await pollUntil(() => all.every(hasEnded), { timeoutMs: 10_000, describe: () => 'sshd processes did not end' });
  }

  /** Stops the server and removes its files. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

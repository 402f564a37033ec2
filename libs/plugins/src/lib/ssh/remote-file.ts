import { randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { errorMessage } from '../error-text';
import { SshConnection } from './connection';
import { runQuick, shellQuote, sudoPrefix } from './remote-shell';

/** SFTP status code for a missing file (draft-ietf-secsh-filexfer, SSH_FX_NO_SUCH_FILE). */
const NO_SUCH_FILE = 2;

/** A file to put on a remote host. */
export interface RemoteFileWrite {
  targetPath: string;
  content: string;
  /** Permission bits, e.g. 0o640; the remote umask decides when undefined. */
  mode?: number;
  /** `user` or `user:group`, applied with chown (through sudo when the host has a sudo user). */
  owner?: string;
}

/** Where a host lets files be written, and as whom ownership is changed. */
export interface RemotePathRules {
  /** Remote directories files must resolve under; anywhere when undefined. */
  allowedRoots?: string[];
  sudo?: string;
}

function openSftp(connection: SshConnection): Promise<SFTPWrapper> {
  return new Promise((resolve, reject) => {
    try {
      connection.client.sftp((error, sftp) => {
        if (error) reject(new Error(`cannot open SFTP on ${connection.hostName}: ${errorMessage(error)}`));
        else resolve(sftp);
      });
    } catch (error) {
      reject(new Error(`cannot open SFTP on ${connection.hostName}: ${errorMessage(error)}`));
    }
  });
}

function call<T>(what: string, run: (callback: (error: Error | undefined | null, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, value) => {
      if (error) reject(Object.assign(new Error(`${what}: ${errorMessage(error)}`), { code: (error as { code?: unknown }).code }));
      else resolve(value as T);
    });
  });
}

function isMissing(error: unknown): boolean {
  return (error as { code?: unknown }).code === NO_SUCH_FILE;
}

function isUnder(root: string, path: string): boolean {
  return path === root || path.startsWith(root === '/' ? '/' : `${root}/`);
}

/** The real path of `dir` if it exists, else of its deepest existing ancestor joined with the rest. */
async function resolveDirectory(sftp: SFTPWrapper, dir: string): Promise<string> {
  let existing = dir;
  const rest: string[] = [];
  for (;;) {
    try {
      const real = await call<string>(`realpath ${existing}`, (cb) => sftp.realpath(existing, cb));
      return posix.join(real, ...rest);
    } catch (error) {
      if (!isMissing(error) || existing === '/') throw error;
      rest.unshift(posix.basename(existing));
      existing = posix.dirname(existing);
    }
  }
}

/**
 * Refuses a target whose directory does not resolve (symlinks and `..` followed, on the remote
 * host) under one of the allowed roots. The file name itself is never followed: rename and unlink
 * act on a symlink, not on what it points to.
 */
async function checkAllowed(sftp: SFTPWrapper, hostName: string, targetPath: string, rules: RemotePathRules): Promise<void> {
  if (rules.allowedRoots === undefined) return;
  const name = posix.basename(targetPath);
  const dir = await resolveDirectory(sftp, posix.dirname(targetPath));
  const roots = await Promise.all(rules.allowedRoots.map((root) => resolveDirectory(sftp, posix.normalize(root))));
  if (name === '..' || name === '.' || name === '' || !roots.some((root) => isUnder(root, dir))) {
    throw new Error(
      `${targetPath} resolves to ${posix.join(dir, name)} on ${hostName}, which is outside the host's allowed roots (${rules.allowedRoots.join(', ')})`,
    );
  }
}

async function makeDirectories(sftp: SFTPWrapper, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let at = dir; at !== '/'; at = posix.dirname(at)) {
    try {
      await call(`stat ${at}`, (cb) => sftp.stat(at, cb));
      break;
    } catch (error) {
      if (!isMissing(error)) throw error;
      missing.unshift(at);
    }
  }
  for (const path of missing) await call(`mkdir ${path}`, (cb) => sftp.mkdir(path, cb));
}

/**
 * Writes a file over SFTP: to a temporary name next to the target, then mode and owner, then an
 * atomic rename (OpenSSH's posix-rename) over the target, so readers never see a partial file.
 * Missing parent directories are created. The temporary file is removed when any step fails.
 */
export async function writeRemoteFile(
  connection: SshConnection,
  file: RemoteFileWrite,
  rules: RemotePathRules,
  log: (text: string) => void,
): Promise<void> {
  const sftp = await openSftp(connection);
  try {
    const target = posix.normalize(file.targetPath);
    await checkAllowed(sftp, connection.hostName, target, rules);
    const dir = posix.dirname(target);
    await makeDirectories(sftp, dir);
    // Again after creating directories: a directory created meanwhile could be a symlink out.
    await checkAllowed(sftp, connection.hostName, target, rules);
    const temp = posix.join(dir, `.${posix.basename(target)}.shipdeck-${randomUUID().slice(0, 8)}.tmp`);
    try {
      await call(`write ${temp}`, (cb) => sftp.writeFile(temp, file.content, { encoding: 'utf8', mode: file.mode ?? 0o666 }, cb));
      if (file.mode !== undefined) await call(`chmod ${temp}`, (cb) => sftp.chmod(temp, file.mode as number, cb));
      if (file.owner !== undefined) {
        await runQuick(connection, `${sudoPrefix(rules.sudo)}chown -- ${shellQuote(file.owner)} ${shellQuote(temp)}`).catch((error: unknown) => {
          throw new Error(`cannot give ${target} to ${file.owner}: ${errorMessage(error)}`);
        });
      }
      await call(`rename ${temp} to ${target}`, (cb) => sftp.ext_openssh_rename(temp, target, cb));
    } catch (error) {
      await call(`unlink ${temp}`, (cb) => sftp.unlink(temp, cb)).catch(() => undefined);
      throw error;
    }
    const details = [file.mode === undefined ? '' : `mode ${file.mode.toString(8).padStart(4, '0')}`, file.owner ? `owner ${file.owner}` : '']
      .filter(Boolean)
      .join(', ');
    log(`wrote ${Buffer.byteLength(file.content, 'utf8')} bytes to ${target} on ${connection.hostName}${details ? ` (${details})` : ''}\n`);
  } finally {
    sftp.end();
  }
}

/** Removes a remote file (a symlink itself, not its target); a missing file is not an error. */
export async function removeRemoteFile(
  connection: SshConnection,
  targetPath: string,
  rules: RemotePathRules,
  log: (text: string) => void,
): Promise<void> {
  const sftp = await openSftp(connection);
  try {
    const target = posix.normalize(targetPath);
    await checkAllowed(sftp, connection.hostName, target, rules);
    try {
      await call(`unlink ${target}`, (cb) => sftp.unlink(target, cb));
      log(`removed ${target} on ${connection.hostName}\n`);
    } catch (error) {
      if (!isMissing(error)) throw error;
      log(`${target} does not exist on ${connection.hostName}; nothing to remove\n`);
    }
  } finally {
    sftp.end();
  }
}

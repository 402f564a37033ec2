import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CliError, messageOf } from './session';

/** What `shipdeck login` keeps for one server. */
export interface StoredCredential {
  /** The API token (secret). */
  token: string;
  /** Its id, to revoke it at `shipdeck logout`. */
  tokenId: string;
  /** Who logged in. */
  user: string;
  /** When (ISO time). */
  createdAt: string;
}

/** The credentials file: one entry per server URL ({@link serverKey}). */
interface CredentialsFile {
  servers: Record<string, StoredCredential>;
}

/** The file's name in the configuration directory. */
export const CREDENTIALS_FILE = 'credentials.json';

/**
 * Where the CLI keeps its tokens: `$XDG_CONFIG_HOME/shipdeck/credentials.json`, else
 * `$HOME/.config/shipdeck/credentials.json` (`%USERPROFILE%` where HOME is not set). Undefined when
 * the environment names no home at all (then nothing is read or stored). Read from `env` only, so
 * that a caller (or a test) decides which file is used.
 */
export function credentialsPath(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const xdg = env['XDG_CONFIG_HOME']?.trim();
  if (xdg) return join(xdg, 'shipdeck', CREDENTIALS_FILE);
  const home = env['HOME']?.trim() || env['USERPROFILE']?.trim();
  return home ? join(home, '.config', 'shipdeck', CREDENTIALS_FILE) : undefined;
}

/** The key of a server in the file: its URL normalized (lower-case host, no default port, no trailing slash). */
export function serverKey(server: string): string {
  try {
    return new URL(server).href.replace(/\/+$/, '');
  } catch {
    return server.replace(/\/+$/, '');
  }
}

async function readCredentials(path: string): Promise<CredentialsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { servers: {} };
    throw new CliError(`cannot read ${path}: ${messageOf(error)}`);
  }
  try {
    const parsed = JSON.parse(text) as Partial<CredentialsFile>;
    const servers = parsed && typeof parsed.servers === 'object' && parsed.servers !== null ? parsed.servers : {};
    return { servers };
  } catch (error) {
    throw new CliError(`${path} is not valid JSON (${messageOf(error)}); remove it and log in again`);
  }
}

/**
 * Writes the file with mode 0600 in a directory with mode 0700: written to a new file and renamed
 * over the old one, so that a reader never sees half a file and a file once readable by others is
 * replaced by one that is not.
 */
async function writeCredentials(path: string, file: CredentialsFile): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // mkdir leaves an existing directory as it is: the token directory must not be readable by others.
    await chmod(dir, 0o700);
    const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temporary, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    try {
      await rename(temporary, path);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  } catch (error) {
    throw new CliError(`cannot write ${path}: ${messageOf(error)}`);
  }
}

/** The credential stored for `server`, if any. */
export async function storedCredential(env: Readonly<Record<string, string | undefined>>, server: string): Promise<StoredCredential | undefined> {
  const path = credentialsPath(env);
  if (!path) return undefined;
  const entry = (await readCredentials(path)).servers[serverKey(server)];
  return entry && typeof entry.token === 'string' && entry.token !== '' ? entry : undefined;
}

/** Stores `credential` for `server` (replacing the one stored before); answers the file's path. */
export async function storeCredential(env: Readonly<Record<string, string | undefined>>, server: string, credential: StoredCredential): Promise<string> {
  const path = credentialsPath(env);
  if (!path) throw new CliError('cannot store the token: neither XDG_CONFIG_HOME nor HOME is set');
  const file = await readCredentials(path);
  file.servers[serverKey(server)] = credential;
  await writeCredentials(path, file);
  return path;
}

/** Forgets the credential of `server`; answers whether there was one. */
export async function forgetCredential(env: Readonly<Record<string, string | undefined>>, server: string): Promise<boolean> {
  const path = credentialsPath(env);
  if (!path) return false;
  const file = await readCredentials(path);
  const key = serverKey(server);
  if (!(key in file.servers)) return false;
  delete file.servers[key];
  await writeCredentials(path, file);
  return true;
}

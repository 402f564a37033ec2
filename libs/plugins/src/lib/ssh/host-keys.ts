import { createHash, randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The file in the worker's work directory that holds host keys accepted by `trust-host-key`. */
export const TRUSTED_HOST_KEYS_FILE = 'ssh-trusted-host-keys.json';

/** The SHA-256 fingerprint of a raw public host key, exactly as `ssh-keygen -lf` prints it. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(new Uint8Array(key)).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named inside an SSH wire-format public key, e.g. `ssh-ed25519`. */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const length = key.readUInt32BE(0);
  return length > 0 && length < 64 && key.length >= 4 + length ? key.subarray(4, 4 + length).toString('ascii') : 'unknown';
}

/** How a host is named in the trusted keys: `address:port`, as OpenSSH's known_hosts does. */
export function trustKey(address: string, port: number): string {
  return `${address}:${port}`;
}

/**
 * The host keys one worker trusts without a `hostKeyFingerprint` on the host: a JSON map
 * `address:port` → fingerprint in the work directory, written by the `trust-host-key` control.
 * Per worker on purpose: a key shown to and confirmed by an operator on one worker says nothing
 * about what another worker's network sees.
 */
export class TrustedHostKeys {
  constructor(private readonly workDir: string) {}

  private get file(): string {
    return join(this.workDir, TRUSTED_HOST_KEYS_FILE);
  }

  /** The trusted fingerprint of `address:port`, if any. */
  async get(address: string, port: number): Promise<string | undefined> {
    return (await this.read())[trustKey(address, port)];
  }

  /** Records `fingerprint` for `address:port`, replacing a previous one; the file is written atomically, mode 0600. */
  async set(address: string, port: number, fingerprint: string): Promise<void> {
    const entries = { ...(await this.read()), [trustKey(address, port)]: fingerprint };
    const temp = `${this.file}.${randomUUID()}.tmp`;
    try {
      await writeFile(temp, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600 });
      await rename(temp, this.file);
    } finally {
      await rm(temp, { force: true });
    }
  }

  private async read(): Promise<Record<string, string>> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
      throw error;
    }
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new Error(`${this.file} is not a map of trusted host keys`);
    }
    return Object.fromEntries(Object.entries(parsed).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
  }
}

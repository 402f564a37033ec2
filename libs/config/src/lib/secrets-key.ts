import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SECRETS_KEY_BYTES, SecretBox } from '@shipdeck/domain';
import { ConfigError } from '@shipdeck/errors';
import { ShipdeckConfig } from './load-config';
import { SECRETS_KEY_RULE, decodeSecretsKey } from './parsers';

/** Mode of a key file this process creates: the process user's alone. */
export const KEY_FILE_MODE = 0o600;

/**
 * The box of this process's secrets key, for a worker: `secrets.key` when set, else the key in
 * `secrets.keyFile`. Null without either: the worker runs every step that needs no secret and
 * fails those that do, saying why.
 *
 * @throws ConfigError when the key file cannot be read or does not hold a key; the message names
 *   the file, never its content.
 */
export function openSecretBox(config: Pick<ShipdeckConfig, 'secrets'>): SecretBox | null {
  const { key, keyFile } = config.secrets;
  const configured = key === null ? undefined : decodeSecretsKey(key);
  if (configured) return new SecretBox(configured);
  let text: string;
  try {
    text = readFileSync(keyFile, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new ConfigError(`secrets.keyFile: cannot read ${keyFile} (${code ?? String(error)})`);
  }
  const decoded = decodeSecretsKey(text);
  if (!decoded) throw new ConfigError(`secrets.keyFile: ${keyFile} ${SECRETS_KEY_RULE}`);
  return new SecretBox(decoded);
}

/**
 * {@link openSecretBox} for a master: a missing `secrets.keyFile` (without `secrets.key`) is
 * created with a new random key, mode 0600.
 *
 * @throws ConfigError as {@link openSecretBox}, or when the file cannot be created.
 */
export function openOrCreateSecretBox(config: Pick<ShipdeckConfig, 'secrets'>): SecretBox {
  return openSecretBox(config) ?? new SecretBox(createKeyFile(config.secrets.keyFile));
}

/**
 * Writes a new key to `file` (0600; its directory 0700 when created). The key is written to a
 * temporary file first and linked into place, so that a master starting at the same moment never
 * reads a half-written file; when another one was first, its key wins.
 */
function createKeyFile(file: string): Uint8Array {
  const key = new Uint8Array(randomBytes(SECRETS_KEY_BYTES));
  const temporary = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    writeFileSync(temporary, `${Buffer.from(key).toString('base64')}\n`, { mode: KEY_FILE_MODE, flag: 'wx' });
    linkSync(temporary, file);
    return key;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EEXIST') throw new ConfigError(`secrets.keyFile: cannot create ${file} (${code ?? String(error)})`);
    const existing = decodeSecretsKey(readFileSync(file, 'utf8'));
    if (!existing) throw new ConfigError(`secrets.keyFile: ${file} ${SECRETS_KEY_RULE}`);
    return existing;
  } finally {
    rmSync(temporary, { force: true });
  }
}

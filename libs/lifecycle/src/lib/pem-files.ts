import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '@shipdeck/errors';

/** One PEM file a TLS context needs: where it is and which configuration key set it. */
export interface PemFile {
  path: string;
  /** The configuration key that names the file, e.g. `server.tls.cert`. */
  key: string;
  /** What the file holds, for people: `certificate`, `private key`, `CA certificate`. */
  what: string;
}

const PART = { cert: 'certificate', key: 'key', ca: 'CA' } as const;

/**
 * Reads the PEM files of a TLS context once, at start, and checks that together they make a
 * usable context (PEM that parses, a key that matches the certificate). A problem is a
 * {@link ConfigError} naming the file and its key, so a process stops at start with one clear
 * line (exit 78) rather than at its first connection.
 * @param purpose what the files are for, e.g. `HTTPS` or `command channel TLS`
 */
export function readPemFiles<K extends 'cert' | 'key' | 'ca'>(files: Record<K, PemFile>, purpose: string): Record<K, Buffer> {
  const entries = Object.entries(files) as [K, PemFile][];
  const material = {} as Record<K, Buffer>;
  for (const [option, file] of entries) {
    try {
      material[option] = readFileSync(file.path);
    } catch (error) {
      const message = `cannot read the ${purpose} ${file.what} file ${file.path} (${file.key}): ${(error as Error).message}`;
      throw new ConfigError(message, [{ field: file.key, message }]);
    }
  }
  try {
    createSecureContext(material);
  } catch (error) {
    const paths = entries.map(([, file]) => file.path).join(', ');
    const parts = entries.map(([option]) => PART[option]);
    const whole = parts.length > 1 ? `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}` : parts[0];
    const message = `the ${purpose} files ${paths} are not a usable ${whole}: ${(error as Error).message}`;
    throw new ConfigError(message, entries.map(([, file]) => ({ field: file.key, message })));
  }
  return material;
}

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { TlsFiles } from '@shipdeck/config';
import { ConfigError } from '@shipdeck/errors';

/** The PEM contents of {@link TlsFiles}, as `tls` options take them. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

const FILES = [
  ['certFile', 'cert', 'channel.tls.cert', 'certificate'],
  ['keyFile', 'key', 'channel.tls.key', 'private key'],
  ['caFile', 'ca', 'channel.tls.ca', 'CA certificate'],
] as const;

/**
 * Reads the certificate, key and CA of mutual TLS once, at start, and checks that they make a
 * usable TLS context (PEM that parses, a key that matches the certificate). A problem is a
 * {@link ConfigError} naming the file.
 */
export function readTlsFiles(files: TlsFiles): TlsMaterial {
  const material: Partial<TlsMaterial> = {};
  for (const [field, option, key, what] of FILES) {
    const path = files[field];
    try {
      material[option] = readFileSync(path);
    } catch (error) {
      const message = `cannot read the command channel TLS ${what} file ${path}: ${(error as Error).message}`;
      throw new ConfigError(message, [{ field: key, message }]);
    }
  }
  const complete = material as TlsMaterial;
  try {
    createSecureContext(complete);
  } catch (error) {
    const message = `the command channel TLS files ${files.certFile}, ${files.keyFile}, ${files.caFile} are not a usable certificate, key and CA: ${(error as Error).message}`;
    throw new ConfigError(message, FILES.map(([, , key]) => ({ field: key, message })));
  }
  return complete;
}

import type { TlsFiles } from '@shipdeck/config';
import { readPemFiles } from '@shipdeck/lifecycle';

/** The PEM contents of {@link TlsFiles}, as `tls` options take them. */
export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
}

/**
 * Reads the certificate, key and CA of mutual TLS once, at start (see `readPemFiles`); a problem
 * is a ConfigError naming the file and its `channel.tls.*` key.
 */
export function readTlsFiles(files: TlsFiles): TlsMaterial {
  return readPemFiles(
    {
      cert: { path: files.certFile, key: 'channel.tls.cert', what: 'certificate' },
      key: { path: files.keyFile, key: 'channel.tls.key', what: 'private key' },
      ca: { path: files.caFile, key: 'channel.tls.ca', what: 'CA certificate' },
    },
    'command channel TLS',
  );
}

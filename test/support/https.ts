/**
 * HTTPS requests that trust a test's own CA (global fetch trusts only the system's and
 * NODE_EXTRA_CA_CERTS, read at process start), and a self-signed certificate made with openssl.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { join } from 'node:path';

/** What {@link httpsRequest} answers. */
export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/** One request to `url`, trusting `ca`. */
export function httpsRequest(
  method: string,
  url: string,
  ca: Buffer,
  options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, ca, headers: options.headers, timeout: options.timeoutMs ?? 5_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within the timeout`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A self-signed certificate for 127.0.0.1 and localhost in `dir`: `cert.pem`, `key.pem` (mode 0600). */
export function selfSignedCertificate(dir: string): { certFile: string; keyFile: string } {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', keyFile, '-out', certFile, '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { certFile, keyFile };
}

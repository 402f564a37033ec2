/**
 * Certificates for the mutual TLS lifecycle test (issue 4), made at test time with openssl: a CA
 * with a master certificate (SAN DNS:localhost, IP:127.0.0.1) and a worker certificate, and a
 * foreign CA with a worker certificate of its own.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Certificate, key and CA files of one process: its SHIPDECK_CHANNEL_TLS_* variables. */
export interface TlsEnv {
  SHIPDECK_CHANNEL_TLS_CERT: string;
  SHIPDECK_CHANNEL_TLS_KEY: string;
  SHIPDECK_CHANNEL_TLS_CA: string;
}

export interface Pki {
  dir: string;
  master: TlsEnv;
  worker: TlsEnv;
  /** A worker certificate signed by the foreign CA, trusting the right CA (only its own certificate is wrong). */
  foreignWorker: TlsEnv;
}

async function openssl(dir: string, ...args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (error) {
    throw new Error(`openssl ${args.join(' ')} failed: ${(error as { stderr?: string }).stderr ?? String(error)}`);
  }
}

async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(dir, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/O=Shipdeck lifecycle tests/CN=${name}`);
}

async function makeCert(dir: string, ca: string, name: string, extensions: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\n${extensions}\n`);
  await openssl(dir, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=Shipdeck lifecycle tests/CN=${name}`);
  await openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}

/** Makes the certificates in `dir` (created). */
export async function makePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  await Promise.all([makeCa(dir, 'ca'), makeCa(dir, 'foreign-ca')]);
  await Promise.all([
    makeCert(dir, 'ca', 'master', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth'),
    makeCert(dir, 'ca', 'worker', 'extendedKeyUsage=clientAuth'),
    makeCert(dir, 'foreign-ca', 'foreign-worker', 'extendedKeyUsage=clientAuth'),
  ]);
  const files = (cert: string): TlsEnv => ({
    SHIPDECK_CHANNEL_TLS_CERT: join(dir, `${cert}.crt`),
    SHIPDECK_CHANNEL_TLS_KEY: join(dir, `${cert}.key`),
    SHIPDECK_CHANNEL_TLS_CA: join(dir, 'ca.crt'),
  });
  return { dir, master: files('master'), worker: files('worker'), foreignWorker: files('foreign-worker') };
}

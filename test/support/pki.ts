/**
 * Certificates for the mutual TLS tests of the command channel, made at test time with openssl:
 * a CA with a master certificate (SAN DNS:localhost, IP:127.0.0.1) and a worker certificate, and
 * a foreign CA with a worker and a master certificate of its own.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TlsFiles } from '@shipdeck/config';

const run = promisify(execFile);

export interface Pki {
  dir: string;
  master: TlsFiles;
  worker: TlsFiles;
  /** Another worker's certificate from the same CA (CN=other-worker). */
  otherWorker: TlsFiles;
  /** A worker certificate from the foreign CA, trusting the right CA (only its own certificate is wrong). */
  foreignWorker: TlsFiles;
  /** A master certificate from the foreign CA, valid for localhost. */
  foreignMaster: TlsFiles;
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
    '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/O=Shipdeck tests/CN=${name}`);
}

async function makeCert(dir: string, ca: string, name: string, extensions: string): Promise<void> {
  writeFileSync(join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\n${extensions}\n`);
  await openssl(dir, 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=Shipdeck tests/CN=${name}`);
  await openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-days', '1', '-extfile', `${name}.ext`, '-out', `${name}.crt`);
}

/** Makes the certificates in `dir` (created). */
export async function makePki(dir: string): Promise<Pki> {
  mkdirSync(dir, { recursive: true });
  const serverExt = 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth';
  const clientExt = 'extendedKeyUsage=clientAuth';
  await Promise.all([makeCa(dir, 'ca'), makeCa(dir, 'foreign-ca')]);
  await Promise.all([
    makeCert(dir, 'ca', 'master', serverExt),
    makeCert(dir, 'ca', 'worker', clientExt),
    makeCert(dir, 'ca', 'other-worker', clientExt),
    makeCert(dir, 'foreign-ca', 'foreign-worker', clientExt),
    makeCert(dir, 'foreign-ca', 'foreign-master', serverExt),
  ]);
  // Every certificate trusts the right CA: a foreign one is wrong only in itself.
  const files = (cert: string): TlsFiles => ({
    certFile: join(dir, `${cert}.crt`),
    keyFile: join(dir, `${cert}.key`),
    caFile: join(dir, 'ca.crt'),
  });
  return {
    dir,
    master: files('master'),
    worker: files('worker'),
    otherWorker: files('other-worker'),
    foreignWorker: files('foreign-worker'), foreignMaster: files('foreign-master'),
  };
}

/** The SHIPDECK_CHANNEL_TLS_* variables of a process using these files. */
export function tlsEnv(files: TlsFiles): Record<string, string> {
  return { SHIPDECK_CHANNEL_TLS_CERT: files.certFile, SHIPDECK_CHANNEL_TLS_KEY: files.keyFile, SHIPDECK_CHANNEL_TLS_CA: files.caFile };
}

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CommandChannelClient, CommandChannelServer, TlsFiles } from '@shipdeck/command-channel';
import { ConfigError } from '@shipdeck/errors';
import { openStores } from '@shipdeck/persistence';
import { Pki, makePki } from '../support/pki';
import { holdsFor, pollUntil } from '../support/poll';
import { TEST_DATABASE_URL, databaseUrlWithSchema, dropSchema, requireServices } from '../support/services';
import { TestMaster, TestWorker, capturingLogger, registrationOf, sessionOf, startMaster, startWorker } from './support';

let pki: Pki;
beforeAll(async () => {
  pki = await makePki(mkdtempSync(join(tmpdir(), 'shipdeck-channel-tls-')));
}, 60_000);
afterAll(() => {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

jest.setTimeout(30_000);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function master(tls: TlsFiles): Promise<TestMaster> {
  const m = await startMaster({ tls });
  cleanups.push(() => m.server.close());
  return m;
}

async function worker(masters: string[], tls: TlsFiles, workerId?: string): Promise<TestWorker> {
  const w = await startWorker(masters, { tls }, workerId);
  cleanups.push(() => w.client.close());
  return w;
}

describe('command channel with mutual TLS', () => {
  it('registers a worker whose certificate chains to the CA, by host name and by IP address', async () => {
    const m = await master(pki.master);
    const byName = await worker([`localhost:${m.port}`], pki.worker);
    const session = await sessionOf(m, byName.workerId);
    expect(session.peerCertificateSubject).toBe('O=Shipdeck tests, CN=worker');
    await expect(session.send({ kind: 'drain' })).resolves.toEqual({ ok: true, message: 'done drain' });
    await pollUntil(() => byName.welcomes.length === 1, { timeoutMs: 5_000, describe: () => byName.log.dump() });

    const byAddress = await worker([`127.0.0.1:${m.port}`], pki.worker);
    await sessionOf(m, byAddress.workerId);
  });

  it('binds a worker id to its certificate: another certificate of the same CA cannot take the session over', async () => {
    const m = await master(pki.master);
    const real = await worker([`localhost:${m.port}`], pki.worker);
    const session = await sessionOf(m, real.workerId);
    const impostor = await worker([`localhost:${m.port}`], pki.otherWorker, real.workerId);
    const refusal = `worker id ${real.workerId} belongs to the certificate O=Shipdeck tests, CN=worker, not to O=Shipdeck tests, CN=other-worker`;
    await pollUntil(() => m.log.has(new RegExp(`refused the registration of worker ${real.workerId} .*${refusal}`), 'warn'), {
      timeoutMs: 5_000,
      describe: () => m.log.dump(),
    });
    await pollUntil(() => impostor.log.has(new RegExp(`registration refused: ${refusal}`)), { timeoutMs: 5_000, describe: () => impostor.log.dump() });
    await holdsFor(() => m.server.session(real.workerId) === session && session.open && m.closed.length === 0, 1_000, () => m.log.dump());
    await expect(session.send({ kind: 'drain' })).resolves.toEqual({ ok: true, message: 'done drain' });
    expect(impostor.welcomes).toEqual([]);

    // The same worker with its own certificate may come back on a new connection (a reconnect).
    await real.client.close();
    await worker([`localhost:${m.port}`], pki.worker, real.workerId);
    await pollUntil(() => m.server.session(real.workerId)?.open === true && m.registered.length === 2, { timeoutMs: 5_000, describe: () => m.log.dump() });
  });

  it('keeps the binding in the database: a second master refuses the id to another certificate too', async () => {
    await requireServices({ databaseUrl: TEST_DATABASE_URL });
    const schema = `test_bindings_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    cleanups.push(() => dropSchema(schema));
    // Two masters: each with its own connection pool on the shared database, as two processes would have.
    const [storesA, storesB] = await Promise.all(
      [0, 1].map(() => openStores({ url: databaseUrlWithSchema(schema), logger: capturingLogger('stores').logger, migrate: true })),
    );
    cleanups.push(() => storesA.close(), () => storesB.close());
    const a = await startMaster({ tls: pki.master, certificateBindings: storesA.workerCertificates });
    const b = await startMaster({ tls: pki.master, certificateBindings: storesB.workerCertificates });
    cleanups.push(() => a.server.close(), () => b.server.close());

    const real = await worker([`localhost:${a.port}`], pki.worker);
    await sessionOf(a, real.workerId);
    // Master B never saw the real worker: only the database tells it whose id this is.
    const impostor = await worker([`localhost:${b.port}`], pki.otherWorker, real.workerId);
    const refusal = `worker id ${real.workerId} belongs to the certificate O=Shipdeck tests, CN=worker, not to O=Shipdeck tests, CN=other-worker`;
    await pollUntil(() => b.log.has(new RegExp(`refused the registration of worker ${real.workerId} .*${refusal}`), 'warn'), {
      timeoutMs: 5_000,
      describe: () => b.log.dump(),
    });
    await holdsFor(() => b.registered.length === 0 && impostor.welcomes.length === 0, 1_000, () => b.log.dump());

    // The real worker with its own certificate is welcome on master B.
    await real.client.close();
    await worker([`localhost:${b.port}`], pki.worker, real.workerId);
    await sessionOf(b, real.workerId);
  });

  it('refuses a worker whose certificate comes from another CA; the worker logs the refused handshake', async () => {
    const m = await master(pki.master);
    const w = await worker([`localhost:${m.port}`], pki.foreignWorker);
    await pollUntil(() => w.log.has(/TLS handshake with master localhost:\d+ failed: TLS handshake refused: /, 'warn'), {
      timeoutMs: 10_000,
      describe: () => `the worker logged no refused handshake\n${w.log.dump()}`,
    });
    await pollUntil(() => m.log.has(/TLS handshake with a worker refused: its certificate does not verify against the CA/, 'warn'), {
      timeoutMs: 5_000,
      describe: () => `the master logged no refused handshake\n${m.log.dump()}`,
    });
    await holdsFor(() => m.registered.length === 0, 1_000, () => `the foreign worker registered\n${m.log.dump()}`);
    expect(w.client.masters()).toEqual([{ endpoint: `localhost:${m.port}`, connected: false }]);
    // It keeps trying (with backoff), in case the certificates get fixed.
    await pollUntil(() => m.log.lines.filter((l) => /TLS handshake with a worker refused/.test(l.message)).length >= 2, {
      timeoutMs: 5_000,
      describe: () => m.log.dump(),
    });
  });

  it('refuses a master whose certificate comes from another CA', async () => {
    const m = await master(pki.foreignMaster);
    const w = await worker([`localhost:${m.port}`], pki.worker);
    await pollUntil(() => w.log.has(/TLS handshake with master localhost:\d+ failed: TLS handshake refused: .*certificate/, 'warn'), {
      timeoutMs: 10_000,
      describe: () => `the worker logged no refused handshake\n${w.log.dump()}`,
    });
    await pollUntil(() => m.log.has(/TLS handshake with a worker failed: the worker hung up during the handshake/, 'warn'), {
      timeoutMs: 5_000,
      describe: () => `the master logged no failed handshake\n${m.log.dump()}`,
    });
    await holdsFor(() => m.registered.length === 0 && w.welcomes.length === 0, 1_000, () => 'the worker trusted a foreign master');
  });

  it('refuses a plain TCP worker', async () => {
    const m = await master(pki.master);
    const w = await startWorker([`127.0.0.1:${m.port}`]);
    cleanups.push(() => w.client.close());
    await pollUntil(() => m.log.has(/TLS handshake with worker 127\.0\.0\.1:\d+ failed: TLS handshake refused: wrong version number/, 'warn'), {
      timeoutMs: 5_000,
      describe: () => m.log.dump(),
    });
    await holdsFor(() => m.registered.length === 0, 1_000, () => 'a plain TCP worker registered with a TLS master');
  });

  it('names an unreadable or unusable TLS file at start', async () => {
    const missing = { ...pki.master, keyFile: join(pki.dir, 'nope.key') };
    const log = capturingLogger('tls-files');
    const server = new CommandChannelServer({
      port: 0,
      host: '127.0.0.1',
      tls: missing,
      masterId: 'm',
      configHash: 'h',
      heartbeatTimeoutMs: 1000,
      logger: log.logger,
      onRegister: () => undefined,
    });
    const error = await server.start().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`cannot read the command channel TLS private key file ${missing.keyFile}`);
    await server.close();

    const mismatched = { ...pki.worker, keyFile: pki.master.keyFile };
    const client = new CommandChannelClient({
      masters: ['127.0.0.1:1'],
      defaultPort: 1,
      resolveIntervalMs: 1000,
      heartbeatIntervalMs: 1000,
      tls: mismatched,
      registration: () => registrationOf('w'),
      onCommand: async () => ({ ok: true, message: '' }),
      logger: log.logger,
    });
    await expect(client.start()).rejects.toThrow(
      /the command channel TLS files .*worker\.crt, .*master\.key, .*ca\.crt are not a usable certificate, key and CA/,
    );
    await client.close();
  });
});

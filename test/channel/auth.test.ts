import { AddressInfo, Socket, createServer } from 'node:net';
import { holdsFor, pollUntil } from '../support/poll';
import { TestMaster, TestWorker, rawSocket, registrationOf, sessionOf, startMaster, startWorker } from './support';

// Issue 10, "the cluster's own channels": without TLS, a worker proves with the cluster secret
// that it belongs to the cluster before it may register, and the master proves it back.

jest.setTimeout(30_000);

const SECRET = 'the-real-cluster-secret-0123456789abcdef';
const WRONG = 'a-guessed-cluster-secret-0123456789abcdef';

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function master(secret: string | null): Promise<TestMaster> {
  const m = await startMaster({ secret });
  cleanups.push(() => m.server.close());
  return m;
}

async function worker(port: number, secret: string | null, workerId?: string): Promise<TestWorker> {
  const w = await startWorker([`127.0.0.1:${port}`], { secret }, workerId);
  cleanups.push(() => w.client.close());
  return w;
}

/** No log line of either end shows the secret. */
function expectSecretNeverLogged(...ends: { log: { dump(): string } }[]): void {
  for (const end of ends) {
    expect(end.log.dump()).not.toContain(SECRET);
    expect(end.log.dump()).not.toContain(WRONG);
  }
}

describe('command channel authenticated by the cluster secret', () => {
  it('registers a worker that knows the secret, and the worker trusts the master that proved it back', async () => {
    const m = await master(SECRET);
    const w = await worker(m.port, SECRET);
    const session = await sessionOf(m, w.workerId);
    await pollUntil(() => w.welcomes.length === 1, { timeoutMs: 5_000, describe: () => w.log.dump() });
    expect(w.welcomes[0]!.masterId).toBe(m.masterId);
    await expect(session.send({ kind: 'drain' })).resolves.toEqual({ ok: true, message: 'done drain' });
    // A re-registration on the same connection (e.g. DRAINING) needs no new proof.
    w.registration.state = 'DRAINING';
    w.client.announce();
    await pollUntil(() => m.server.session(w.workerId)?.runState === 'DRAINING', { timeoutMs: 5_000, describe: () => m.log.dump() });
    expect(m.registered).toHaveLength(1);
    expectSecretNeverLogged(m, w);
  });

  it('refuses an impostor with a wrong secret under a registered id, and leaves the real session untouched', async () => {
    const m = await master(SECRET);
    const real = await worker(m.port, SECRET);
    const session = await sessionOf(m, real.workerId);
    const impostor = await worker(m.port, WRONG, real.workerId);
    await pollUntil(() => m.log.has(new RegExp(`refused the registration of worker ${real.workerId} from 127\\.0\\.0\\.1:\\d+: its proof of the cluster secret is wrong`), 'warn'), {
      timeoutMs: 5_000,
      describe: () => m.log.dump(),
    });
    await pollUntil(() => impostor.log.has(/closed by the master: registration refused: its proof of the cluster secret is wrong/), {
      timeoutMs: 5_000,
      describe: () => impostor.log.dump(),
    });
    await holdsFor(
      () => m.server.session(real.workerId) === session && session.open && m.closed.length === 0 && m.registered.length === 1,
      1_000,
      () => `the real worker's session was touched\n${m.log.dump()}`,
    );
    // The real worker still takes commands over its session.
    await expect(session.send({ kind: 'drain' })).resolves.toEqual({ ok: true, message: 'done drain' });
    expect(real.commands).toHaveLength(1);
    expect(impostor.welcomes).toEqual([]);
    expectSecretNeverLogged(m, real, impostor);
  });

  it('refuses a worker without a secret, which says what to set', async () => {
    const m = await master(SECRET);
    const w = await worker(m.port, null);
    await pollUntil(() => m.log.has(/refused the registration of worker .*: it did not prove that it knows the cluster secret/, 'warn'), {
      timeoutMs: 5_000,
      describe: () => m.log.dump(),
    });
    await pollUntil(() => w.log.has(/requires the cluster secret: set cluster\.secret \(SHIPDECK_CLUSTER_SECRET\)/, 'error'), {
      timeoutMs: 5_000,
      describe: () => w.log.dump(),
    });
    await holdsFor(() => m.registered.length === 0 && w.welcomes.length === 0, 500, () => m.log.dump());
  });

  it('refuses a raw register without a proof, and one sent with a replayed proof', async () => {
    const m = await master(SECRET);
    const honest = await worker(m.port, SECRET);
    await sessionOf(m, honest.workerId);
    const socket = await rawSocket(m.port);
    cleanups.push(() => socket.destroy());
    await pollUntil(() => socket.received.includes('"type":"hello"'), { timeoutMs: 5_000, describe: () => socket.received });
    // A proof made for another connection's challenge does not answer this one.
    const proof = { nonce: 'n'.repeat(43), mac: 'm'.repeat(43) };
    socket.write(`${JSON.stringify({ type: 'register', registration: registrationOf('raw-1'), proof })}\n`);
    await socket.ended;
    expect(socket.received).toContain('registration refused: its proof of the cluster secret is wrong');
    const bare = await rawSocket(m.port);
    cleanups.push(() => bare.destroy());
    bare.write(`${JSON.stringify({ type: 'register', registration: registrationOf('raw-2') })}\n`);
    await bare.ended;
    expect(bare.received).toContain('registration refused: it did not prove that it knows the cluster secret');
    expect(m.registered.map((s) => s.workerId)).toEqual([honest.workerId]);
  });

  it('a worker with a secret does not register with a master that cannot prove it', async () => {
    const open = await master(null);
    const w = await worker(open.port, SECRET);
    await pollUntil(() => w.log.has(/not registering with master 127\.0\.0\.1:\d+: it does not ask for the cluster secret/, 'error'), {
      timeoutMs: 5_000,
      describe: () => w.log.dump(),
    });
    await holdsFor(() => open.registered.length === 0 && w.welcomes.length === 0, 500, () => open.log.dump());
  });

  it('a worker does not trust a master whose welcome proof is wrong (a rogue master telling a configuration hash)', async () => {
    // A rogue master that asks for the proof but cannot answer it: it does not know the secret.
    const sockets: Socket[] = [];
    const rogue = createServer((socket) => {
      sockets.push(socket);
      socket.write(`${JSON.stringify({ type: 'hello', protocolVersion: 2, nonce: 'x'.repeat(43), hmac: true })}\n`);
      socket.on('data', () => socket.write(`${JSON.stringify({ type: 'welcome', masterId: 'rogue', configHash: 'other', proof: 'p'.repeat(43) })}\n`));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => rogue.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      rogue.close(() => resolve());
    }));
    const w = await worker((rogue.address() as AddressInfo).port, SECRET);
    await pollUntil(() => w.log.has(/not trusting master 127\.0\.0\.1:\d+: its proof of the cluster secret is missing or wrong/, 'error'), {
      timeoutMs: 5_000,
      describe: () => w.log.dump(),
    });
    expect(w.welcomes).toEqual([]);
    expect(w.client.masters()).toEqual([{ endpoint: `127.0.0.1:${(rogue.address() as AddressInfo).port}`, connected: false }]);
  });
});

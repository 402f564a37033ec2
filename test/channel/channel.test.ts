import { AddressInfo, Socket, createServer } from 'node:net';
import { CommandChannelError, CommandChannelServer, WorkerCommand } from '@shipdeck/command-channel';
import { holdsFor, pollUntil, withDeadline } from '../support/poll';
import {
  TestMaster,
  TestWorker,
  capturingLogger,
  rawSocket,
  registrationOf,
  sessionOf,
  startMaster,
  startWorker,
} from './support';

/** Everything a test started, closed after it whatever happened. */
jest.setTimeout(30_000);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function master(overrides: Parameters<typeof startMaster>[0] = {}): Promise<TestMaster> {
  const m = await startMaster(overrides);
  cleanups.push(() => m.server.close());
  return m;
}

async function worker(masters: string[], overrides: Parameters<typeof startWorker>[1] = {}): Promise<TestWorker> {
  const w = await startWorker(masters, overrides);
  cleanups.push(() => w.client.close());
  return w;
}

describe('command channel over TCP', () => {
  it('registers a worker and welcomes it with the master id and configuration hash', async () => {
    const m = await master({ configHash: 'hash-of-master' });
    const w = await worker([`127.0.0.1:${m.port}`]);
    w.registration.tasks = [
      { id: 'task-1', type: 'DEPLOYMENT', state: 'EXECUTING' },
      { id: 'task-2', type: 'CONTROL', state: 'DONE' },
    ];
    const session = await sessionOf(m, w.workerId);
    expect(m.registered).toEqual([session]);
    expect(session.registration).toEqual(w.registration);
    expect(session.runState).toBe('RUNNING');
    expect(session.runningTasks).toEqual(['task-1']);
    expect(session.remoteAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(session.peerCertificateSubject).toBeUndefined();
    expect(session.open).toBe(true);

    await pollUntil(() => w.welcomes.length === 1, { timeoutMs: 5_000, describe: () => w.log.dump() });
    expect(w.welcomes[0]).toEqual({ masterId: m.masterId, configHash: 'hash-of-master', endpoint: `127.0.0.1:${m.port}` });
    expect(w.client.masters()).toEqual([
      { endpoint: `127.0.0.1:${m.port}`, connected: true, masterId: m.masterId, configHash: 'hash-of-master' },
    ]);
  });

  it('carries a command to the worker and its reply back', async () => {
    const m = await master();
    const w = await worker([`127.0.0.1:${m.port}`], {
      onCommand: async (command: WorkerCommand) =>
        command.kind === 'stop'
          ? { ok: true, message: `stopping ${command.taskId}`, data: { taskId: command.taskId } }
          : { ok: false, message: 'not that' },
    });
    const session = await sessionOf(m, w.workerId);
    await expect(session.send({ kind: 'stop', taskId: 'task-7' })).resolves.toEqual({
      ok: true,
      message: 'stopping task-7',
      data: { taskId: 'task-7' },
    });
    // Several commands in flight are matched to their own replies.
    const replies = await Promise.all([
      session.send({ kind: 'stop', taskId: 'a' }),
      session.send({ kind: 'drain' }),
      session.send({ kind: 'stop', taskId: 'b' }),
    ]);
    expect(replies.map((r) => r.message)).toEqual(['stopping a', 'not that', 'stopping b']);
  });

  it('answers ok: false when the worker fails to carry out a command, or does not know it', async () => {
    const m = await master();
    const w = await worker([`127.0.0.1:${m.port}`], {
      onCommand: async () => {
        throw new Error('task task-9 is not on this worker');
      },
    });
    const session = await sessionOf(m, w.workerId);
    await expect(session.send({ kind: 'abort', taskId: 'task-9' })).resolves.toEqual({
      ok: false,
      message: 'task task-9 is not on this worker',
    });
    await expect(session.send({ kind: 'reboot' } as unknown as WorkerCommand)).resolves.toEqual({
      ok: false,
      message: 'this worker does not know the command "reboot"',
    });
  });

  it('rejects a command the worker does not answer in time, and pending commands when the channel closes', async () => {
    const m = await master({ commandTimeoutMs: 300 });
    const w = await worker([`127.0.0.1:${m.port}`], { onCommand: () => new Promise(() => undefined) });
    const session = await sessionOf(m, w.workerId);
    const started = Date.now();
    const timedOut = await session.send({ kind: 'stop', taskId: 'task-1' }).catch((error: unknown) => error);
    expect(timedOut).toBeInstanceOf(CommandChannelError);
    expect(timedOut).toMatchObject({ failure: 'timeout', workerId: w.workerId, code: 'NOT_READY', retryable: true });
    expect((timedOut as Error).message).toBe(`the worker did not answer the stop command for worker ${w.workerId} within 300 ms`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);

    const pending = session.send({ kind: 'abort', taskId: 'task-1' }, { timeoutMs: 60_000 });
    session.close('test closes it');
    await expect(pending).rejects.toMatchObject({
      failure: 'closed',
      message: expect.stringContaining('closed before it answered the abort command: test closes it'),
    });
    await expect(session.send({ kind: 'drain' })).rejects.toMatchObject({ failure: 'closed' });
    expect(m.closed).toEqual([{ session, reason: 'test closes it' }]);
  });

  it('reconnects and re-registers by itself when the master restarts', async () => {
    const first = await startMaster();
    const w = await worker([`127.0.0.1:${first.port}`]);
    await sessionOf(first, w.workerId);
    await pollUntil(() => w.welcomes.length === 1, { timeoutMs: 5_000, describe: () => w.log.dump() });

    await first.server.close();
    expect(first.closed.map((c) => c.reason)).toEqual(['master shutting down']);
    await pollUntil(() => w.lost.length === 1 && !w.client.masters()[0]!.connected, {
      timeoutMs: 5_000,
      describe: () => `worker did not notice the master is gone\n${w.log.dump()}`,
    });
    expect(w.lost).toEqual([`127.0.0.1:${first.port}`]);

    // The same port, a new master process (new id).
    const second = await master({ port: first.port, masterId: 'master-after-restart' });
    const session = await sessionOf(second, w.workerId, 10_000);
    expect(session.registration.workerId).toBe(w.workerId);
    await pollUntil(() => w.welcomes.length === 2, { timeoutMs: 5_000, describe: () => w.log.dump() });
    expect(w.welcomes[1]!.masterId).toBe('master-after-restart');
    expect(w.client.masters()[0]).toMatchObject({ connected: true, masterId: 'master-after-restart' });
    await expect(session.send({ kind: 'drain' })).resolves.toMatchObject({ ok: true });
  });

  it('closes the session of a frozen worker after the heartbeat time-out, and onClose fires', async () => {
    const m = await master({ heartbeatTimeoutMs: 600 });
    // A worker that registers and then sends nothing more: frozen (SIGSTOP) as far as the master can tell.
    const frozen = await rawSocket(m.port);
    cleanups.push(() => frozen.destroy());
    frozen.write(`${JSON.stringify({ type: 'register', registration: registrationOf('frozen-worker') })}\n`);
    const session = await sessionOf(m, 'frozen-worker');
    // A live worker beside it keeps its session: its heartbeats (every 200 ms) count.
    const live = await worker([`127.0.0.1:${m.port}`]);
    await sessionOf(m, live.workerId);

    await withDeadline(frozen.ended, 5_000, () => `the master did not close the frozen worker's channel\n${m.log.dump()}`);
    const lastSeen = session.lastSeen.getTime();
    await pollUntil(() => m.closed.length === 1, { timeoutMs: 2_000, describe: () => m.log.dump() });
    expect(m.closed[0]!.session).toBe(session);
    expect(m.closed[0]!.reason).toBe('no message for 600 ms: the worker is gone or frozen');
    expect(Date.now() - lastSeen).toBeGreaterThanOrEqual(550);
    expect(session.open).toBe(false);
    expect(m.server.session('frozen-worker')).toBeUndefined();
    expect(frozen.received).toContain('"type":"welcome"');

    await holdsFor(() => m.server.session(live.workerId)?.open === true, 1_000, () => `live worker lost\n${m.log.dump()}`);
    expect(m.closed).toHaveLength(1);
  });

  it('closes a connection that sends a malformed frame and goes on serving the others', async () => {
    const m = await master();
    const w = await worker([`127.0.0.1:${m.port}`]);
    const session = await sessionOf(m, w.workerId);

    const garbage = await rawSocket(m.port);
    garbage.write('{"type":"register", this is not JSON\n');
    await withDeadline(garbage.ended, 5_000, () => `malformed frame did not close the connection\n${m.log.dump()}`);
    expect(m.log.has(/closing the channel with worker 127\.0\.0\.1:\d+: invalid JSON frame/, 'warn')).toBe(true);

    const huge = await rawSocket(m.port);
    huge.write(`{"type":"register","padding":"${'x'.repeat(1024 * 1024 + 10)}`);
    await withDeadline(huge.ended, 5_000, () => `oversized frame did not close the connection\n${m.log.dump()}`);
    expect(m.log.has(/frame longer than 1048576 bytes/, 'warn')).toBe(true);

    const badRegister = await rawSocket(m.port);
    badRegister.write(`${JSON.stringify({ type: 'register', registration: { workerId: 'x' } })}\n`);
    await withDeadline(badRegister.ended, 5_000, () => `invalid register did not close the connection\n${m.log.dump()}`);
    expect(badRegister.received).toContain('"type":"goodbye"');
    expect(m.log.has(/invalid register message: registration\.protocolVersion/, 'warn')).toBe(true);

    // None of it disturbed the registered worker.
    expect(m.registered).toHaveLength(1);
    expect(m.closed).toEqual([]);
    await expect(session.send({ kind: 'drain' })).resolves.toEqual({ ok: true, message: 'done drain' });
  });

  it('ignores unknown message types (a newer peer) and logs them', async () => {
    const m = await master();
    const peer = await rawSocket(m.port);
    cleanups.push(() => peer.destroy());
    peer.write(`${JSON.stringify({ type: 'register', registration: registrationOf('newer-worker') })}\n`);
    peer.write(`${JSON.stringify({ type: 'metrics', cpu: 0.5 })}\n`);
    peer.write(`${JSON.stringify({ type: 'heartbeat', state: 'DRAINING', runningTasks: ['t-1'] })}\n`);
    await pollUntil(() => m.updated.length === 1, { timeoutMs: 5_000, describe: () => m.log.dump() });
    expect(m.updated[0]).toMatchObject({ runState: 'DRAINING', runningTasks: ['t-1'] });
    expect(m.log.has(/ignoring messages of unknown type "metrics" from worker newer-worker/, 'warn')).toBe(true);
    expect(m.server.session('newer-worker')?.open).toBe(true);
  });

  it('closes a connection that does not register in time', async () => {
    const m = await master({ registerTimeoutMs: 300 });
    const silent = await rawSocket(m.port);
    await withDeadline(silent.ended, 5_000, () => `unregistered connection was not closed\n${m.log.dump()}`);
    expect(m.log.has(/no register within 300 ms/, 'warn')).toBe(true);
    expect(m.registered).toEqual([]);
  });

  it('replaces the old session when the same worker registers again on a new connection', async () => {
    const m = await master();
    const old = await rawSocket(m.port);
    cleanups.push(() => old.destroy());
    old.write(`${JSON.stringify({ type: 'register', registration: registrationOf('worker-r') })}\n`);
    const oldSession = await sessionOf(m, 'worker-r');

    const fresh = await rawSocket(m.port);
    cleanups.push(() => fresh.destroy());
    fresh.write(`${JSON.stringify({ type: 'register', registration: registrationOf('worker-r', { capacity: 5 }) })}\n`);
    await pollUntil(() => m.registered.length === 2, { timeoutMs: 5_000, describe: () => m.log.dump() });
    expect(m.closed).toEqual([{ session: oldSession, reason: 'replaced' }]);
    expect(m.server.sessions()).toEqual([m.registered[1]]);
    expect(m.server.session('worker-r')!.registration.capacity).toBe(5);
    await withDeadline(old.ended, 5_000, () => 'the replaced connection stayed open');
    expect(old.received).toContain('{"type":"goodbye","reason":"replaced"}');
  });

  it('announce() re-registers with every master: a draining worker says so at once', async () => {
    const a = await master();
    const b = await master();
    const w = await worker([`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`], { heartbeatIntervalMs: 60_000 });
    await sessionOf(a, w.workerId);
    await sessionOf(b, w.workerId);
    await pollUntil(() => w.client.masters().every((x) => x.connected), { timeoutMs: 5_000, describe: () => w.log.dump() });

    w.registration = { ...w.registration, state: 'DRAINING' };
    w.client.announce();
    for (const m of [a, b]) {
      await pollUntil(() => m.updated.length === 1, { timeoutMs: 5_000, describe: () => m.log.dump() });
      expect(m.updated[0]!.runState).toBe('DRAINING');
      expect(m.updated[0]!.registration.state).toBe('DRAINING');
    }
    expect(a.registered).toHaveLength(1);
  });

  it('heartbeats carry the state and running tasks; a change reaches onUpdate', async () => {
    const m = await master();
    const w = await worker([`127.0.0.1:${m.port}`], { heartbeatIntervalMs: 100 });
    const session = await sessionOf(m, w.workerId);
    const seen = session.lastSeen.getTime();
    w.registration = { ...w.registration, tasks: [{ id: 'task-3', type: 'CONTROL', state: 'EXECUTING' }] };
    await pollUntil(() => m.updated.length >= 1, { timeoutMs: 5_000, describe: () => m.log.dump() });
    expect(session.runningTasks).toEqual(['task-3']);
    expect(session.lastSeen.getTime()).toBeGreaterThan(seen);
  });

  it('close() of the worker ends its sessions with a goodbye and stops reconnecting', async () => {
    const m = await master();
    const w = await startWorker([`127.0.0.1:${m.port}`]);
    await sessionOf(m, w.workerId);
    await w.client.close();
    await w.client.close();
    await pollUntil(() => m.closed.length === 1, { timeoutMs: 5_000, describe: () => m.log.dump() });
    expect(m.closed[0]!.reason).toBe('closed by the worker: worker shutting down');
    expect(w.client.masters()).toEqual([]);
    await holdsFor(() => m.registered.length === 1, 500, () => 'the closed worker reconnected');
  });

  it('reports a taken port clearly, and close() is idempotent', async () => {
    const m = await master();
    const log = capturingLogger('second');
    const second = new CommandChannelServer({
      port: m.port,
      host: '127.0.0.1',
      masterId: 'm2',
      configHash: 'h',
      heartbeatTimeoutMs: 1000,
      logger: log.logger,
      onRegister: () => undefined,
    });
    await expect(second.start()).rejects.toThrow(`command channel port ${m.port} is already in use`);
    expect(second.currentState).toBe('FAILED');
    await second.close();
    await m.server.close();
    await m.server.close();
    expect(m.server.currentState).toBe('CLOSED');
  });

  it('keeps retrying a master that is not there yet, with backoff, and connects once it is', async () => {
    const probe = await startMaster();
    const port = probe.port;
    await probe.server.close();
    const w = await worker([`127.0.0.1:${port}`]);
    await pollUntil(() => w.log.has(/cannot connect to master 127\.0\.0\.1:\d+ failed: .*ECONNREFUSED/, 'warn'), {
      timeoutMs: 5_000,
      describe: () => w.log.dump(),
    });
    const m = await master({ port });
    await sessionOf(m, w.workerId, 10_000);
  });
});

describe('command channel: the worker facing a misbehaving master', () => {
  /** A hand-written master: answers each connection with `script(socket, frame)` for every frame it receives. */
  async function fakeMaster(script: (socket: Socket, frame: { type: string }) => void): Promise<{ port: number; connections: number }> {
    const state = { port: 0, connections: 0 };
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      state.connections++;
      sockets.add(socket);
      socket.on('error', () => undefined);
      let buffered = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, end);
          buffered = buffered.slice(end + 1);
          script(socket, JSON.parse(line) as { type: string });
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    state.port = (server.address() as AddressInfo).port;
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    return state;
  }

  it('ignores message types it does not know and still takes commands', async () => {
    const fake = await fakeMaster((socket, frame) => {
      if (frame.type !== 'register') return;
      socket.write('{"type":"rebalance","hint":3}\n{"type":"rebalance"}\n');
      socket.write('{"type":"welcome","masterId":"newer-master","configHash":"h"}\n');
      socket.write('{"type":"command","requestId":"r-1","command":{"kind":"drain"}}\n');
    });
    const w = await worker([`127.0.0.1:${fake.port}`]);
    await pollUntil(() => w.commands.length === 1, { timeoutMs: 5_000, describe: () => w.log.dump() });
    expect(w.commands[0]).toEqual({
      command: { kind: 'drain' },
      master: { masterId: 'newer-master', configHash: 'h', endpoint: `127.0.0.1:${fake.port}` },
    });
    expect(w.log.lines.filter((l) => /ignoring messages of unknown type "rebalance"/.test(l.message))).toHaveLength(1);
    expect(w.client.masters()[0]!.connected).toBe(true);
  });

  it('closes the channel on a malformed frame, logs why, and reconnects', async () => {
    const fake = await fakeMaster((socket, frame) => {
      if (frame.type === 'register') socket.write('<html>not the command channel</html>\n');
    });
    const w = await worker([`127.0.0.1:${fake.port}`]);
    await pollUntil(() => fake.connections >= 2, { timeoutMs: 5_000, describe: () => w.log.dump() });
    expect(w.log.has(/closing the channel with master 127\.0\.0\.1:\d+: invalid JSON frame/, 'warn')).toBe(true);
    expect(w.welcomes).toEqual([]);
  });
});

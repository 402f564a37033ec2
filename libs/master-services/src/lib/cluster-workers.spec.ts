import { CommandReply, WorkerCommand, WorkerRegistration, WorkerRunState } from '@shipdeck/command-channel';
import { WorkerRecord, WorkerStore } from '@shipdeck/persistence';
import { TaskRecord } from '@shipdeck/tasks';
import { silentLogger } from '../testing';
import { ClusterWorkers, ConnectedWorker } from './cluster-workers';

class MemoryWorkerStore implements WorkerStore {
  readonly rows = new Map<string, WorkerRecord>();
  async put(worker: WorkerRecord) {
    this.rows.set(worker.id, worker);
  }
  async get(id: string) {
    return this.rows.get(id) ?? null;
  }
  async list() {
    return [...this.rows.values()];
  }
  async delete(id: string) {
    return this.rows.delete(id);
  }
}

class FakeSession implements ConnectedWorker {
  runState: WorkerRunState = 'RUNNING';
  readonly sent: WorkerCommand[] = [];
  constructor(
    public registration: WorkerRegistration,
    public lastSeen: Date,
  ) {}
  async send(command: WorkerCommand): Promise<CommandReply> {
    this.sent.push(command);
    return { ok: true, message: `did ${command.kind}`, data: command.kind === 'restoreGhostTasks' ? ['g1'] : undefined };
  }
}

const GRACE = 10_000;
const logger = silentLogger();

const PRUNE = 3_600_000;

function setup() {
  const clock = { now: new Date('2030-01-01T00:00:00Z') };
  const store = new MemoryWorkerStore();
  const workers = new ClusterWorkers({ workers: store, configHash: 'H', gracePeriodMs: GRACE, pruneAfterMs: PRUNE, logger, now: () => clock.now });
  const advance = (ms: number) => (clock.now = new Date(clock.now.getTime() + ms));
  const session = (id: string, hash = 'H') =>
    new FakeSession(
      { protocolVersion: 1, workerId: id, name: id, address: `${id}:1`, configHash: hash, capacity: 3, state: 'RUNNING', tasks: [] },
      clock.now,
    );
  return { clock, store, workers, advance, session };
}

const task = (id: string, workerId: string, type: TaskRecord['type'] = 'CONTROL') => ({ id, workerId, type }) as TaskRecord;

describe('ClusterWorkers', () => {
  it('lists a compatible worker CONNECTED with its task counts, an incompatible one INCOMPATIBLE', async () => {
    const { workers, session } = setup();
    await workers.connected(session('w1'));
    await workers.connected(session('w2', 'OTHER'));
    const list = await workers.list([task('a', 'w1'), task('b', 'w1', 'DEPLOYMENT'), task('c', 'w2')]);
    expect(list.map((w) => [w.id, w.state, w.deploymentTasks, w.controlTasks])).toEqual([
      ['w1', 'CONNECTED', 1, 1],
      ['w2', 'INCOMPATIBLE', 0, 1],
    ]);
  });

  it('shows DRAINING from the worker heartbeat', async () => {
    const { workers, session } = setup();
    const s = session('w1');
    await workers.connected(s);
    s.runState = 'DRAINING';
    await workers.seen(s);
    expect((await workers.list([]))[0].state).toBe('DRAINING');
  });

  it('keeps a gone worker listed DISCONNECTED, and its tasks UNKNOWN only after the grace period', async () => {
    const { workers, session, advance } = setup();
    const s = session('w1');
    await workers.connected(s);
    workers.disconnected(s, 'socket closed');
    expect((await workers.list([]))[0].state).toBe('DISCONNECTED');
    expect(workers.isDisconnected('w1')).toBe(false);
    advance(GRACE + 1);
    expect(workers.isDisconnected('w1')).toBe(true);
  });

  it('counts a frozen worker (no heartbeat) as DISCONNECTED after the grace period', async () => {
    const { workers, session, advance } = setup();
    await workers.connected(session('w1'));
    advance(GRACE + 1);
    expect((await workers.list([]))[0].state).toBe('DISCONNECTED');
    expect(workers.isDisconnected('w1')).toBe(true);
  });

  it('after a master restart, gives workers the grace period to reconnect before tasks show UNKNOWN', async () => {
    const { store, advance } = setup();
    await store.put({ id: 'w1', name: 'w1', address: 'a', configHash: 'H', capacity: 1, registeredAt: '2029-01-01T00:00:00Z', lastSeen: '2029-01-01T00:00:00Z' });
    const clock = { now: new Date('2030-01-01T00:00:00Z') };
    const restarted = new ClusterWorkers({ workers: store, configHash: 'H', gracePeriodMs: GRACE, logger, now: () => clock.now });
    expect(restarted.isDisconnected('w1')).toBe(false);
    expect((await restarted.list([]))[0].state).toBe('DISCONNECTED');
    clock.now = new Date(clock.now.getTime() + GRACE + 1);
    expect(restarted.isDisconnected('w1')).toBe(true);
    advance(0);
  });

  it('forgets only DISCONNECTED workers', async () => {
    const { workers, session, store } = setup();
    const s = session('w1');
    await workers.connected(s);
    await expect(workers.forget('w1')).rejects.toThrow(/CONNECTED/);
    workers.disconnected(s, 'gone');
    await workers.forget('w1');
    expect(store.rows.has('w1')).toBe(false);
    await expect(workers.forget('w1')).rejects.toThrow(/not known/);
  });

  it('sends drain, stop and abort to the owner, and collects ghost tasks', async () => {
    const { workers, session } = setup();
    const s = session('w1');
    await workers.connected(s);
    expect(await workers.drain('w1')).toEqual({ message: 'did drain' });
    await workers.stop(task('t1', 'w1'));
    await workers.abort(task('t1', 'w1'));
    expect(s.sent).toEqual([{ kind: 'drain' }, { kind: 'stop', taskId: 't1' }, { kind: 'abort', taskId: 't1' }]);
    expect(await workers.restoreGhostTasks()).toMatchObject({ tasks: ['g1'] });
    await expect(workers.drain('nope')).rejects.toThrow(/not known/);
  });

  it('moves LAST SEEN with every frame of a live session, heartbeats included, and records it', async () => {
    const { workers, session, advance, clock, store } = setup();
    const s = session('w1');
    await workers.connected(s);
    advance(15_000);
    // A heartbeat that changes nothing updates the session's time only (no `seen` callback).
    s.lastSeen = clock.now;
    const [listed] = await workers.list([]);
    expect(listed.lastSeen).toBe(clock.now.toISOString());
    expect(store.rows.get('w1')?.lastSeen).toBe(clock.now.toISOString());
  });

  it('marks a worker that left while draining as drained; it can be removed, and is pruned after worker.pruneAfter', async () => {
    const { workers, session, advance, store } = setup();
    const drained = session('w1');
    const vanished = session('w2');
    const busy = session('w3');
    for (const s of [drained, vanished, busy]) await workers.connected(s);
    drained.runState = 'DRAINING';
    for (const s of [drained, vanished, busy]) workers.disconnected(s, 'socket closed');
    expect((await workers.list([])).map((w) => [w.id, w.state, w.drained])).toEqual([
      ['w1', 'DISCONNECTED', true],
      ['w2', 'DISCONNECTED', undefined],
      ['w3', 'DISCONNECTED', undefined],
    ]);
    advance(PRUNE - 1);
    expect(await workers.list([])).toHaveLength(3);
    advance(2);
    // w3 still owns a current task: it stays listed, its task UNKNOWN, until the task is dealt with.
    expect((await workers.list([task('t', 'w3')])).map((w) => w.id)).toEqual(['w3']);
    expect([...store.rows.keys()]).toEqual(['w3']);
    workers.disconnected(busy, 'again');
    await workers.forget('w3');
    expect(store.rows.size).toBe(0);
  });

  it('forgets a drained worker at once when asked, and a reconnect clears the mark', async () => {
    const { workers, session } = setup();
    const s = session('w1');
    await workers.connected(s);
    s.runState = 'DRAINING';
    await expect(workers.forget('w1')).rejects.toThrow(/DRAINING/);
    workers.disconnected(s, 'exited');
    const back = session('w1');
    await workers.connected(back);
    const [listed] = await workers.list([]);
    expect([listed.state, listed.drained]).toEqual(['CONNECTED', undefined]);
    back.runState = 'DRAINING';
    workers.disconnected(back, 'exited');
    await workers.forget('w1');
    expect(await workers.list([])).toEqual([]);
  });

  it('a reconnect replaces the old session without a false disconnect', async () => {
    const { workers, session } = setup();
    const first = session('w1');
    const second = session('w1');
    await workers.connected(first);
    await workers.connected(second);
    workers.disconnected(first, 'replaced');
    expect((await workers.list([]))[0].state).toBe('CONNECTED');
  });
});

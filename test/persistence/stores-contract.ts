import { randomUUID } from 'node:crypto';
import { ConflictError, NotReadyError, ValidationError, isRetryable } from '@shipdeck/errors';
import { createLogger } from '@shipdeck/logging';
import { Stores, openStores } from '@shipdeck/persistence';
import { Plan, TaskRecord, TaskState } from '@shipdeck/tasks';

/** The database a contract run works on. */
export interface ContractTarget {
  /** The database shared by the tests of one file. */
  url(): string;
  /** A URL of a database (or schema) that does not exist yet; the target removes it afterwards. */
  freshUrl(): string;
}

export const testLogger = createLogger({ json: false, name: 'persistence-test', level: 'warn' });

/** A clock the tests can set; null means the real time. */
export const clock: { at: Date | null; now: () => Date } = {
  at: null,
  now: () => clock.at ?? new Date(),
};

const uid = () => randomUUID().slice(0, 8);

function plan(): Plan {
  return {
    phases: [
      {
        path: '1',
        description: 'Deploy',
        blocks: [
          {
            path: '1-1',
            description: 'on web-1',
            parallel: false,
            steps: [
              {
                path: '1-1-1',
                description: 'Write app.conf',
                order: 60,
                ciType: 'file.File',
                operation: 'CREATE',
                deployable: 'app-config',
                target: { name: 'web-1', type: 'local' },
                properties: { targetPath: '/tmp/app.conf', content: 'db.url=x\n' },
                state: 'PENDING',
                pauseBefore: false,
              },
            ],
          },
        ],
      },
    ],
  };
}

export function makeTask(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: randomUUID(),
    type: 'DEPLOYMENT',
    description: 'Deploy petclinic 1.0 to dev',
    state: 'PENDING',
    plan: plan(),
    workerId: null,
    leaseUntil: null,
    attempt: 0,
    deployment: {
      application: 'petclinic',
      version: '1.0',
      environment: 'dev',
      kind: 'INITIAL',
      deployeds: [{ deployable: 'app-config', type: 'file.File', host: 'web-1', properties: { a: 1 } }],
    },
    control: null,
    scheduledAt: null,
    queuedAt: null,
    claimedAt: null,
    createdAt: new Date().toISOString(),
    startedAt: null,
    completedAt: null,
    failure: null,
    ...overrides,
  };
}

async function insertIn(stores: Stores, state: TaskState, overrides: Partial<TaskRecord> = {}): Promise<TaskRecord> {
  const task = makeTask({ state, ...overrides });
  await stores.tasks.insert(task);
  return task;
}

/** The contract every Stores implementation keeps, run against one database. */
export function describeStoresContract(target: ContractTarget): void {
  let stores: Stores;

  beforeAll(async () => {
    stores = await openStores({ url: target.url(), logger: testLogger, migrate: true, now: clock.now });
  });
  afterAll(async () => {
    await stores?.close();
  });
  afterEach(() => {
    clock.at = null;
  });

  describe('tasks', () => {
    it('stores and reads back every field, times as ISO strings', async () => {
      const task = makeTask({
        state: 'STOPPED',
        workerId: 'worker-1',
        leaseUntil: '2030-01-02T03:04:05.678Z',
        attempt: 2,
        scheduledAt: '2030-01-01T00:00:00.000Z',
        createdAt: '2029-12-31T23:59:59.999Z',
        startedAt: '2030-01-01T00:00:01.000Z',
        failure: 'step 1-1-1 failed: exit 2',
      });
      await stores.tasks.insert(task);
      expect(await stores.tasks.get(task.id)).toEqual(task);
      const control = makeTask({
        type: 'CONTROL',
        deployment: null,
        control: { target: 'web-1', control: 'checkConnection', parameters: { timeout: 5 } },
      });
      await stores.tasks.insert(control);
      expect(await stores.tasks.get(control.id)).toEqual(control);
    });

    it('answers null for an unknown task', async () => {
      expect(await stores.tasks.get('no-such-task')).toBeNull();
      expect(await stores.tasks.compareAndSet('no-such-task', 'PENDING', { state: 'QUEUED' })).toBeNull();
      expect(await stores.tasks.claim('no-such-task', 'w', new Date())).toBeNull();
    });

    it('refuses a second task with the same id', async () => {
      const task = await insertIn(stores, 'PENDING');
      await expect(stores.tasks.insert(task)).rejects.toBeInstanceOf(ConflictError);
    });

    it("stores a task with its creation's audit entry, both or neither", async () => {
      const task = makeTask({ type: 'CONTROL', deployment: null, control: { target: 'web-1', control: 'noop', parameters: {} } });
      const entry = {
        at: '2031-02-03T04:05:06.789Z',
        userId: 'user-1',
        username: 'alice',
        tokenId: 'token-1',
        action: 'POST /api/v1/control-tasks',
        objectIds: {},
        outcome: 'succeeded' as const,
        status: 201,
        sourceIp: '127.0.0.1',
        detail: 'started',
        taskId: task.id,
      };
      await stores.tasks.insert(task, entry);
      expect(await stores.tasks.get(task.id)).toEqual(task);
      const stored = await stores.auth.listAudit({ limit: 10, taskId: task.id });
      expect(stored.map(({ seq: _seq, ...rest }) => rest)).toEqual([entry]);
      // The same id again: the INSERT fails, and the entry given with it is not stored either.
      await expect(stores.tasks.insert(task, { ...entry, action: 'second' })).rejects.toBeInstanceOf(ConflictError);
      expect(await stores.auth.listAudit({ limit: 10, taskId: task.id })).toHaveLength(1);
    });

    it("stores an exclusive deployment task with its audit entry, and neither when another one blocks it", async () => {
      const environment = `env-${uid()}`;
      const entryOf = (taskId: string) => ({
        at: '2031-02-03T04:05:06.789Z',
        userId: 'user-1',
        username: 'alice',
        tokenId: null,
        action: 'POST /api/v1/deployments',
        objectIds: {},
        outcome: 'succeeded' as const,
        status: 201,
        sourceIp: null,
        detail: null,
        taskId,
      });
      const deployment = { ...makeTask().deployment!, environment };
      const first = makeTask({ deployment }) as TaskRecord & { deployment: typeof deployment };
      expect(await stores.tasks.insertExclusive(first, entryOf(first.id))).toBeNull();
      expect(await stores.auth.listAudit({ limit: 10, taskId: first.id })).toHaveLength(1);
      const second = makeTask({ deployment }) as TaskRecord & { deployment: typeof deployment };
      expect((await stores.tasks.insertExclusive(second, entryOf(second.id)))?.id).toBe(first.id);
      expect(await stores.tasks.get(second.id)).toBeNull();
      expect(await stores.auth.listAudit({ limit: 10, taskId: second.id })).toEqual([]);
    });

    it('lists current tasks oldest first, with filters, never DONE or CANCELLED', async () => {
      const worker = `w-${uid()}`;
      const a = await insertIn(stores, 'EXECUTING', { workerId: worker, createdAt: '2031-01-01T00:00:02.000Z' });
      const b = await insertIn(stores, 'PENDING', { workerId: worker, createdAt: '2031-01-01T00:00:01.000Z' });
      const c = await insertIn(stores, 'EXECUTING', {
        workerId: worker,
        type: 'CONTROL',
        deployment: null,
        control: { target: 'h', control: 'checkConnection', parameters: {} },
        createdAt: '2031-01-01T00:00:03.000Z',
      });
      await insertIn(stores, 'DONE', { workerId: worker });
      await insertIn(stores, 'CANCELLED', { workerId: worker });
      const ids = (tasks: TaskRecord[]) => tasks.map((t) => t.id);
      expect(ids(await stores.tasks.list({ workerId: worker }))).toEqual([b.id, a.id, c.id]);
      expect(ids(await stores.tasks.list({ workerId: worker, state: 'EXECUTING' }))).toEqual([a.id, c.id]);
      expect(ids(await stores.tasks.list({ workerId: worker, type: 'CONTROL' }))).toEqual([c.id]);
      expect(await stores.tasks.list({ workerId: worker, state: 'DONE' })).toEqual([]);
      const all = ids(await stores.tasks.list());
      expect(all).toEqual(expect.arrayContaining([a.id, b.id, c.id]));
      expect(all.indexOf(b.id)).toBeLessThan(all.indexOf(a.id));
    });

    it('compareAndSet applies the patch only in the expected state', async () => {
      const task = await insertIn(stores, 'PENDING');
      const queued = await stores.tasks.compareAndSet(task.id, 'PENDING', { state: 'QUEUED', attempt: 1 });
      expect(queued).toEqual({ ...task, state: 'QUEUED', attempt: 1 });
      expect(await stores.tasks.compareAndSet(task.id, 'PENDING', { state: 'CANCELLING' })).toBeNull();
      expect(await stores.tasks.get(task.id)).toEqual(queued);
    });

    it('compareAndSet sets every patchable field, and null clears', async () => {
      const task = await insertIn(stores, 'EXECUTING', { workerId: 'w1', leaseUntil: '2030-01-01T00:00:00.000Z' });
      const newPlan = plan();
      newPlan.phases[0]!.blocks[0]!.steps[0]!.state = 'FAILED';
      const updated = await stores.tasks.compareAndSet(task.id, 'EXECUTING', {
        state: 'FAILED',
        plan: newPlan,
        workerId: null,
        leaseUntil: null,
        completedAt: '2030-01-01T00:01:00.000Z',
        failure: 'boom',
        description: 'renamed',
      });
      expect(updated).toEqual({
        ...task,
        state: 'FAILED',
        plan: newPlan,
        workerId: null,
        leaseUntil: null,
        completedAt: '2030-01-01T00:01:00.000Z',
        failure: 'boom',
        description: 'renamed',
      });
      expect(await stores.tasks.get(task.id)).toEqual(updated);
    });

    it('compareAndSet with an empty patch only checks the state', async () => {
      const task = await insertIn(stores, 'STOPPED');
      expect(await stores.tasks.compareAndSet(task.id, 'STOPPED', {})).toEqual(task);
      expect(await stores.tasks.compareAndSet(task.id, 'PENDING', {})).toBeNull();
    });

    it('of 20 concurrent compare-and-sets from the same state exactly one wins', async () => {
      const task = await insertIn(stores, 'QUEUED');
      const targets: TaskState[] = ['CANCELLING', 'EXECUTING'];
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          stores.tasks.compareAndSet(task.id, 'QUEUED', { state: targets[i % 2]!, failure: `writer ${i}` }),
        ),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect(await stores.tasks.get(task.id)).toEqual(winners[0]);
    });

    it('claim takes a QUEUED task once, with owner, lease and start time', async () => {
      clock.at = new Date('2032-05-05T10:00:00.000Z');
      const task = await insertIn(stores, 'QUEUED', { attempt: 1 });
      const lease = new Date('2032-05-05T10:00:30.000Z');
      const claimed = await stores.tasks.claim(task.id, 'worker-a', lease);
      expect(claimed).toEqual({
        ...task,
        state: 'EXECUTING',
        workerId: 'worker-a',
        leaseUntil: lease.toISOString(),
        startedAt: '2032-05-05T10:00:00.000Z',
        claimedAt: '2032-05-05T10:00:00.000Z',
        attempt: 1,
      });
      expect(await stores.tasks.claim(task.id, 'worker-b', lease)).toBeNull();
      expect((await stores.tasks.get(task.id))?.workerId).toBe('worker-a');
      const pending = await insertIn(stores, 'PENDING');
      expect(await stores.tasks.claim(pending.id, 'worker-a', lease)).toBeNull();
    });

    it('claim keeps the start time of an earlier run', async () => {
      const task = await insertIn(stores, 'QUEUED', { startedAt: '2030-03-03T03:03:03.000Z', attempt: 2 });
      const claimed = await stores.tasks.claim(task.id, 'worker-a', new Date());
      expect(claimed?.startedAt).toBe('2030-03-03T03:03:03.000Z');
      expect(claimed?.attempt).toBe(2);
    });

    it('of 20 concurrent claims of one QUEUED task exactly one wins', async () => {
      const task = await insertIn(stores, 'QUEUED');
      const lease = new Date(Date.now() + 30_000);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => stores.tasks.claim(task.id, `worker-${i}`, lease)),
      );
      const winners = results.filter((r): r is TaskRecord => r !== null);
      expect(winners).toHaveLength(1);
      const stored = await stores.tasks.get(task.id);
      expect(stored?.state).toBe('EXECUTING');
      expect(stored?.workerId).toBe(winners[0]!.workerId);
    });

    it('savePlan writes only for the owner', async () => {
      const task = await insertIn(stores, 'EXECUTING', { workerId: 'owner' });
      const changed = plan();
      changed.phases[0]!.blocks[0]!.steps[0]!.state = 'DONE';
      expect(await stores.tasks.savePlan(task.id, 'intruder', changed)).toBeNull();
      expect((await stores.tasks.get(task.id))?.plan).toEqual(task.plan);
      expect(await stores.tasks.savePlan(task.id, 'owner', changed)).toBe('EXECUTING');
      expect((await stores.tasks.get(task.id))?.plan).toEqual(changed);
      expect(await stores.tasks.savePlan('no-such-task', 'owner', changed)).toBeNull();
    });

    it('renewLeases extends only the listed tasks the worker still owns', async () => {
      const old = '2030-01-01T00:00:00.000Z';
      const mine = await insertIn(stores, 'EXECUTING', { workerId: 'me', leaseUntil: old });
      const mineUnlisted = await insertIn(stores, 'EXECUTING', { workerId: 'me', leaseUntil: old });
      const theirs = await insertIn(stores, 'EXECUTING', { workerId: 'other', leaseUntil: old });
      const until = new Date('2030-01-01T00:05:00.000Z');
      expect(await stores.tasks.renewLeases('me', [mine.id, theirs.id], until)).toEqual([mine.id]);
      expect(await stores.tasks.renewLeases('me', [], until)).toEqual([]);
      expect((await stores.tasks.get(mine.id))?.leaseUntil).toBe(until.toISOString());
      expect((await stores.tasks.get(mineUnlisted.id))?.leaseUntil).toBe(old);
      expect((await stores.tasks.get(theirs.id))?.leaseUntil).toBe(old);
    });

    it('statesOf answers state and owner of the listed tasks that exist, in one call', async () => {
      const running = await insertIn(stores, 'EXECUTING', { workerId: 'me' });
      const queued = await insertIn(stores, 'QUEUED');
      const answer = await stores.tasks.statesOf([running.id, queued.id, 'no-such-task']);
      expect([...answer].sort((a, b) => a.id.localeCompare(b.id))).toEqual(
        [
          { id: running.id, state: 'EXECUTING', workerId: 'me' },
          { id: queued.id, state: 'QUEUED', workerId: null },
        ].sort((a, b) => a.id.localeCompare(b.id)),
      );
      expect(await stores.tasks.statesOf([])).toEqual([]);
    });

    it('compareAndSet with an owner changes only a task that worker still owns', async () => {
      const task = await insertIn(stores, 'EXECUTING', { workerId: 'me' });
      expect(await stores.tasks.compareAndSet(task.id, 'EXECUTING', { state: 'EXECUTED' }, 'other')).toBeNull();
      expect((await stores.tasks.get(task.id))?.state).toBe('EXECUTING');
      expect((await stores.tasks.compareAndSet(task.id, 'EXECUTING', { state: 'EXECUTED' }, 'me'))?.state).toBe('EXECUTED');
    });

    it('finds active tasks whose lease expired, and of concurrent adopters exactly one wins', async () => {
      const expired = '2031-01-01T00:00:00.000Z';
      const orphan = await insertIn(stores, 'EXECUTING', { workerId: 'dead', leaseUntil: expired });
      const alive = await insertIn(stores, 'EXECUTING', { workerId: 'alive', leaseUntil: '2031-01-01T00:10:00.000Z' });
      const finished = await insertIn(stores, 'FAILED', { workerId: 'dead', leaseUntil: expired });
      const found = (await stores.tasks.leaseExpiredBefore(new Date('2031-01-01T00:01:00.000Z'))).map((t) => t.id);
      expect(found).toContain(orphan.id);
      expect(found).not.toContain(alive.id);
      expect(found).not.toContain(finished.id);
      const lease = new Date('2031-01-01T00:02:00.000Z');
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) => stores.tasks.adopt(orphan.id, { workerId: 'dead', leaseUntil: expired }, `w${i}`, lease)),
      );
      const winners = results.filter((r) => r !== null);
      expect(winners).toHaveLength(1);
      expect((await stores.tasks.get(orphan.id))?.workerId).toBe(winners[0]!.workerId);
      // A stale view of the lease (the owner renewed meanwhile) adopts nothing.
      expect(await stores.tasks.adopt(alive.id, { workerId: 'alive', leaseUntil: expired }, 'w0', lease)).toBeNull();
    });

    it('queuedBefore finds QUEUED tasks by their last state change, which a state patch refreshes', async () => {
      clock.at = new Date('2033-01-01T00:00:00.000Z');
      const task = await insertIn(stores, 'PENDING');
      await stores.tasks.compareAndSet(task.id, 'PENDING', { state: 'QUEUED' });
      const ids = async (before: string) => (await stores.tasks.queuedBefore(new Date(before))).map((t) => t.id);
      expect(await ids('2033-01-01T00:00:00.000Z')).not.toContain(task.id);
      expect(await ids('2033-01-01T00:00:10.000Z')).toContain(task.id);
      // The reconciler touches a task it republishes: same state, new state change time.
      clock.at = new Date('2033-01-01T00:00:20.000Z');
      expect(await stores.tasks.compareAndSet(task.id, 'QUEUED', { state: 'QUEUED' })).not.toBeNull();
      expect(await ids('2033-01-01T00:00:10.000Z')).not.toContain(task.id);
      expect(await ids('2033-01-01T00:00:30.000Z')).toContain(task.id);
      // A patch without a state leaves the time alone.
      clock.at = new Date('2033-01-01T00:00:40.000Z');
      await stores.tasks.compareAndSet(task.id, 'QUEUED', { attempt: 5 });
      expect(await ids('2033-01-01T00:00:30.000Z')).toContain(task.id);
      await stores.tasks.claim(task.id, 'w', new Date());
      expect(await ids('2099-01-01T00:00:00.000Z')).not.toContain(task.id);
    });

    it('countByStateAndType counts the tasks of each (state, type) in one answer', async () => {
      const count = async (state: string, type: string) =>
        (await stores.tasks.countByStateAndType()).find((row) => row.state === state && row.type === type)?.count ?? 0;
      const [failedBefore, doneBefore] = [await count('FAILED', 'DEPLOYMENT'), await count('DONE', 'DEPLOYMENT')];
      await insertIn(stores, 'FAILED');
      await insertIn(stores, 'FAILED');
      await insertIn(stores, 'DONE');
      expect(await count('FAILED', 'DEPLOYMENT')).toBe(failedBefore + 2);
      expect(await count('DONE', 'DEPLOYMENT')).toBe(doneBefore + 1);
    });

    it('scheduledDue finds SCHEDULED tasks due at or before now', async () => {
      const due = await insertIn(stores, 'SCHEDULED', { scheduledAt: '2034-01-01T00:00:00.000Z' });
      const later = await insertIn(stores, 'SCHEDULED', { scheduledAt: '2034-01-01T00:00:00.001Z' });
      const ids = (await stores.tasks.scheduledDue(new Date('2034-01-01T00:00:00.000Z'))).map((t) => t.id);
      expect(ids).toContain(due.id);
      expect(ids).not.toContain(later.id);
    });

    it('activeOwnedBy lists the tasks a worker holds in an active state', async () => {
      const worker = `w-${uid()}`;
      const active = await Promise.all(
        (['EXECUTING', 'STOPPING', 'FAILING', 'ABORTING'] as const).map((state) =>
          insertIn(stores, state, { workerId: worker }),
        ),
      );
      await insertIn(stores, 'STOPPED', { workerId: worker });
      await insertIn(stores, 'EXECUTING', { workerId: 'someone-else' });
      const owned = await stores.tasks.activeOwnedBy(worker);
      expect(owned.map((t) => t.id).sort()).toEqual(active.map((t) => t.id).sort());
    });
  });

  describe('archive', () => {
    it('moves EXECUTED to DONE and records what the environment now holds', async () => {
      const env = `env-${uid()}`;
      const task = await insertIn(stores, 'EXECUTED', { workerId: 'w' });
      const completedAt = new Date('2035-01-01T00:00:00.000Z');
      const deployeds = [{ deployable: 'app', type: 'cmd.Command', host: 'web-1', properties: { create: './i.sh' } }];
      const archived = await stores.tasks.archive(
        task.id,
        { deployed: { environment: env, application: 'petclinic', version: '1.0', deployeds } },
        completedAt,
      );
      expect(archived).toEqual({ ...task, state: 'DONE', completedAt: completedAt.toISOString() });
      expect(await stores.deployed.get(env, 'petclinic')).toEqual({
        environment: env,
        application: 'petclinic',
        version: '1.0',
        deployeds,
        updatedAt: completedAt.toISOString(),
      });
      // An update replaces the previous state (upsert).
      const update = await insertIn(stores, 'EXECUTED');
      await stores.tasks.archive(
        update.id,
        { deployed: { environment: env, application: 'petclinic', version: '2.0', deployeds: [] } },
        new Date('2035-01-02T00:00:00.000Z'),
      );
      expect((await stores.deployed.get(env, 'petclinic'))?.version).toBe('2.0');
      expect(await stores.deployed.listForEnvironment(env)).toHaveLength(1);
    });

    it('removes the application from the environment on undeploy', async () => {
      const env = `env-${uid()}`;
      const deploy = await insertIn(stores, 'EXECUTED');
      await stores.tasks.archive(
        deploy.id,
        { deployed: { environment: env, application: 'petclinic', version: '1.0', deployeds: [] } },
        new Date(),
      );
      const other = await insertIn(stores, 'EXECUTED');
      await stores.tasks.archive(
        other.id,
        { deployed: { environment: env, application: 'billing', version: '3', deployeds: [] } },
        new Date(),
      );
      const undeploy = await insertIn(stores, 'EXECUTED');
      expect(
        await stores.tasks.archive(undeploy.id, { undeploy: { environment: env, application: 'petclinic' } }, new Date()),
      ).not.toBeNull();
      expect(await stores.deployed.get(env, 'petclinic')).toBeNull();
      expect((await stores.deployed.listForEnvironment(env)).map((d) => d.application)).toEqual(['billing']);
    });

    it('answers null and changes nothing when the task is not EXECUTED', async () => {
      const env = `env-${uid()}`;
      const task = await insertIn(stores, 'EXECUTING');
      const change = { deployed: { environment: env, application: 'petclinic', version: '1.0', deployeds: [] } };
      expect(await stores.tasks.archive(task.id, change, new Date())).toBeNull();
      expect((await stores.tasks.get(task.id))?.state).toBe('EXECUTING');
      expect(await stores.deployed.get(env, 'petclinic')).toBeNull();
      const done = await insertIn(stores, 'EXECUTED');
      await stores.tasks.archive(done.id, {}, new Date());
      expect(await stores.tasks.archive(done.id, change, new Date())).toBeNull();
      expect(await stores.deployed.get(env, 'petclinic')).toBeNull();
    });

    it('lists DONE and CANCELLED tasks newest first, by completion time and deployment', async () => {
      const app = `app-${uid()}`;
      const deployment = (environment: string) => ({
        application: app,
        version: '1',
        environment,
        kind: 'INITIAL' as const,
        deployeds: [],
      });
      const t1 = await insertIn(stores, 'EXECUTED', { deployment: deployment('dev') });
      await stores.tasks.archive(t1.id, {}, new Date('2036-01-01T00:00:00.000Z'));
      const t2 = await insertIn(stores, 'EXECUTED', { deployment: deployment('prod') });
      await stores.tasks.archive(t2.id, {}, new Date('2036-01-03T00:00:00.000Z'));
      const t3 = await insertIn(stores, 'CANCELLED', {
        deployment: deployment('dev'),
        completedAt: '2036-01-02T00:00:00.000Z',
      });
      await insertIn(stores, 'EXECUTED', { deployment: deployment('dev') });
      const ids = async (filter: Parameters<Stores['tasks']['listArchived']>[0]) =>
        (await stores.tasks.listArchived({ application: app, ...filter })).map((t) => t.id);
      expect(await ids({})).toEqual([t2.id, t3.id, t1.id]);
      expect(await ids({ environment: 'dev' })).toEqual([t3.id, t1.id]);
      expect(await ids({ from: '2036-01-02T00:00:00.000Z' })).toEqual([t2.id, t3.id]);
      expect(await ids({ to: '2036-01-02T00:00:00.000Z' })).toEqual([t3.id, t1.id]);
      expect(await ids({ from: '2036-01-01T12:00:00Z', to: '2036-01-02T12:00:00Z' })).toEqual([t3.id]);
      expect(await stores.tasks.listArchived({ application: `none-${uid()}` })).toEqual([]);
      await expect(stores.tasks.listArchived({ from: 'yesterday' })).rejects.toBeInstanceOf(ValidationError);
    });
  });

  describe('step logs', () => {
    it('reads the chunks of one step back in the order they were appended', async () => {
      const taskId = randomUUID();
      expect(await stores.logs.read(taskId, '1-1-1')).toBe('');
      const chunks = Array.from({ length: 50 }, (_, i) => `line ${i}\n`);
      for (const chunk of chunks) await stores.logs.append(taskId, '1-1-1', chunk);
      await stores.logs.append(taskId, '1-1-2', 'other step\n');
      await stores.logs.append(taskId, '1-1-1', '');
      expect(await stores.logs.read(taskId, '1-1-1')).toBe(chunks.join(''));
      expect(await stores.logs.read(taskId, '1-1-2')).toBe('other step\n');
      expect(await stores.logs.read(randomUUID(), '1-1-1')).toBe('');
    });

    it('loses no chunk of appends made at the same time', async () => {
      const taskId = randomUUID();
      const appends = Array.from({ length: 20 }, (_, i) => stores.logs.append(taskId, '2-1', `${i},`));
      await Promise.all(appends);
      const read = await stores.logs.read(taskId, '2-1');
      expect(read.split(',').filter(Boolean).map(Number).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      );
    });

    it('removes every log of a task', async () => {
      const taskId = randomUUID();
      const other = randomUUID();
      await stores.logs.append(taskId, '1-1-1', 'a');
      await stores.logs.append(taskId, '1-1-2', 'b');
      await stores.logs.append(other, '1-1-1', 'c');
      await stores.logs.removeTask(taskId);
      expect(await stores.logs.read(taskId, '1-1-1')).toBe('');
      expect(await stores.logs.read(taskId, '1-1-2')).toBe('');
      expect(await stores.logs.read(other, '1-1-1')).toBe('c');
    });
  });

  describe('task removal', () => {
    it('removes a task and its logs, and says whether there was one', async () => {
      const task = await insertIn(stores, 'EXECUTING');
      await stores.logs.append(task.id, '1-1-1', 'out');
      expect(await stores.tasks.remove(task.id)).toBe(true);
      expect(await stores.tasks.get(task.id)).toBeNull();
      expect(await stores.logs.read(task.id, '1-1-1')).toBe('');
      expect(await stores.tasks.remove(task.id)).toBe(false);
    });
  });

  describe('workers', () => {
    it('puts, refreshes, reads, lists and deletes', async () => {
      const id = `worker-${uid()}`;
      const record = {
        id,
        name: 'w1',
        address: 'host-a:9001',
        configHash: 'abc',
        capacity: 4,
        registeredAt: '2032-01-01T00:00:00.000Z',
        lastSeen: '2032-01-01T00:00:01.000Z',
      };
      expect(await stores.workers.get(id)).toBeNull();
      await stores.workers.put(record);
      await stores.workers.put({ ...record, lastSeen: '2032-01-01T00:05:00.000Z', address: 'host-a:9002' });
      expect(await stores.workers.get(id)).toEqual({ ...record, lastSeen: '2032-01-01T00:05:00.000Z', address: 'host-a:9002' });
      expect((await stores.workers.list()).map((w) => w.id)).toContain(id);
      expect(await stores.workers.delete(id)).toBe(true);
      expect(await stores.workers.delete(id)).toBe(false);
    });

    it('binds a worker id to the first certificate subject for good, one winner when two bind at once', async () => {
      const id = `worker-${uid()}`;
      expect(await stores.workerCertificates.bind(id, 'CN=worker')).toBe('CN=worker');
      expect(await stores.workerCertificates.bind(id, 'CN=impostor')).toBe('CN=worker');
      expect(await stores.workerCertificates.bind(id, 'CN=worker')).toBe('CN=worker');
      const raced = `worker-${uid()}`;
      const answers = await Promise.all(['CN=a', 'CN=b', 'CN=c'].map((subject) => stores.workerCertificates.bind(raced, subject)));
      expect(new Set(answers).size).toBe(1);
    });
  });

  describe('hosts', () => {
    it('puts, replaces, reads, lists and deletes', async () => {
      const name = `host-${uid()}`;
      expect(await stores.hosts.get(name)).toBeNull();
      await stores.hosts.put({ name, type: 'local', tags: ['web'], properties: {} });
      await stores.hosts.put({ name, type: 'ssh', tags: ['web', 'db'], properties: { address: '10.0.0.1', port: 22 } });
      expect(await stores.hosts.get(name)).toEqual({
        name,
        type: 'ssh',
        tags: ['web', 'db'],
        properties: { address: '10.0.0.1', port: 22 },
      });
      const second = `${name}-b`;
      await stores.hosts.put({ name: second, type: 'local', tags: [], properties: {} });
      const listed = (await stores.hosts.list()).map((h) => h.name);
      expect(listed).toEqual(expect.arrayContaining([name, second]));
      expect(listed.indexOf(name)).toBeLessThan(listed.indexOf(second));
      expect(await stores.hosts.delete(name)).toBe(true);
      expect(await stores.hosts.delete(name)).toBe(false);
      expect(await stores.hosts.get(name)).toBeNull();
    });
  });

  describe('environments', () => {
    it('puts, replaces, reads and lists', async () => {
      const name = `env-${uid()}`;
      expect(await stores.environments.get(name)).toBeNull();
      await stores.environments.put({ name, hosts: ['a'], dictionary: { PORT: '80' } });
      expect((await stores.environments.get(name))?.secrets).toEqual({});
      await stores.environments.put({ name, hosts: ['a', 'b'], dictionary: { PORT: '8080', APP_HOME: '/opt/app' }, secrets: { PW: '<<sealed:v1:…>>' } });
      expect(await stores.environments.get(name)).toEqual({
        name,
        hosts: ['a', 'b'],
        dictionary: { PORT: '8080', APP_HOME: '/opt/app' },
        secrets: { PW: '<<sealed:v1:…>>' },
      });
      expect((await stores.environments.list()).filter((e) => e.name === name)).toHaveLength(1);
    });
  });

  describe('packages', () => {
    it('imports versions, keeps import order, and replaces a re-imported version in place', async () => {
      const app = `app-${uid()}`;
      const other = `app-${uid()}`;
      const deployables = [{ name: 'app', type: 'cmd.Command', tags: ['web'], order: 70, properties: { create: './i.sh' } }];
      await stores.packages.put({ application: app, version: '2.0', deployables, importedAt: '2037-01-01T00:00:00.000Z' });
      await stores.packages.put({ application: other, version: '1', deployables: [] });
      await stores.packages.put({ application: app, version: '1.0', deployables: [] });
      await stores.packages.put({ application: app, version: '10.0', deployables: [] });
      expect(await stores.packages.get(app, '2.0')).toEqual({
        application: app,
        version: '2.0',
        deployables,
        importedAt: '2037-01-01T00:00:00.000Z',
      });
      await stores.packages.put({ application: app, version: '2.0', deployables: [], importedAt: '2037-02-01T00:00:00.000Z' });
      expect(await stores.packages.get(app, '2.0')).toEqual({
        application: app,
        version: '2.0',
        deployables: [],
        importedAt: '2037-02-01T00:00:00.000Z',
      });
      expect(await stores.packages.listVersions(app)).toEqual(['2.0', '1.0', '10.0']);
      expect(await stores.packages.listVersions(`none-${uid()}`)).toBeNull();
      expect(await stores.packages.get(app, '9.9')).toBeNull();
      const applications = (await stores.packages.listApplications()).filter((a) => a.name === app || a.name === other);
      expect(applications).toEqual([
        { name: app, versions: ['2.0', '1.0', '10.0'] },
        { name: other, versions: ['1'] },
      ]);
    });

    it('stamps the import time when the package has none', async () => {
      clock.at = new Date('2038-01-01T00:00:00.000Z');
      const app = `app-${uid()}`;
      await stores.packages.put({ application: app, version: '1', deployables: [] });
      expect((await stores.packages.get(app, '1'))?.importedAt).toBe('2038-01-01T00:00:00.000Z');
    });
  });

  describe('the database', () => {
    it('answers a ping', async () => {
      await expect(stores.ping()).resolves.toBeUndefined();
    });

    it('migrates a fresh database from two openers at once, both usable', async () => {
      const url = target.freshUrl();
      const [a, b] = await Promise.all([
        openStores({ url, logger: testLogger, migrate: true }),
        openStores({ url, logger: testLogger, migrate: true }),
      ]);
      try {
        const task = makeTask();
        await a.tasks.insert(task);
        expect(await b.tasks.get(task.id)).toEqual(task);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
      // Opening again finds nothing to migrate; without migrate, a migrated database opens too.
      const again = await openStores({ url, logger: testLogger, migrate: true });
      await again.close();
      const plain = await openStores({ url, logger: testLogger, migrate: false });
      await plain.ping();
      await plain.close();
    });

    it('without migrate, refuses a database that is not migrated yet (retryable)', async () => {
      const error = await openStores({ url: target.freshUrl(), logger: testLogger, migrate: false }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NotReadyError);
      expect(isRetryable(error)).toBe(true);
    });

    it('close is idempotent, and a closed store answers NotReadyError', async () => {
      const other = await openStores({ url: target.url(), logger: testLogger });
      await other.close();
      await other.close();
      await expect(other.ping()).rejects.toBeInstanceOf(NotReadyError);
    });
  });
}

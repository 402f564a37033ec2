import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InProcessTaskQueue, TaskQueue } from '@shipdeck/queue';
import { flattenSteps } from '@shipdeck/tasks';
import { delayedClaims } from '../testing/delayed-claims';
import { ManualClock } from '../testing/manual-clock';
import { CONFIG_HASH, RuntimeHarness, until } from '../testing/runtime-harness';
import { SeverableQueue } from '../testing/severable-queue';
import { RecoveryFiles, parseRecoveryFile } from './recovery-files';
import { WorkerRuntimeState } from './worker-runtime-options';

describe('WorkerRuntime (in-process: SQLite, in-process queue, manual clock)', () => {
  let world: RuntimeHarness;
  beforeEach(async () => (world = await RuntimeHarness.open()));
  afterEach(() => world.close());

  const stepStates = async (id: string) => flattenSteps((await world.task(id)).plan).map((s) => s.state);

  it('of two runtimes claiming one task at the same moment, exactly one executes it', async () => {
    const clock = new ManualClock();
    const tasks = delayedClaims(world.stores.tasks, 100, clock);
    const a = world.runtime('worker-a', { clock, stores: { tasks, logs: world.stores.logs } });
    const b = world.runtime('worker-b', { clock, stores: { tasks, logs: world.stores.logs } });
    await a.start();
    await b.start();
    const task = await world.queuedTask(['only']);
    // A duplicate message (as a republishing reconciler sends): each runtime gets one.
    await world.publish(task.id);
    await until(() => tasks.waitingClaims === 2, 'both runtimes wait to claim the task');

    await clock.advance(100);
    await until(async () => (await world.task(task.id)).state === 'EXECUTED', 'the task is executed');

    const executed = await world.task(task.id);
    expect(world.steps.started.map((s) => s.taskId)).toEqual([task.id]);
    const winner = executed.workerId === 'worker-a' ? a : b;
    const loser = winner === a ? b : a;
    expect(world.steps.started[0].workDir).toBe(world.workDirOf(winner.workerId));
    expect(winner.heldTasks).toEqual([{ id: task.id, type: 'CONTROL', state: 'EXECUTED' }]);
    expect(loser.heldTasks).toEqual([]);
    // Both deliveries were accepted: the losing claim's message is not handed around again.
    expect(world.queue.depth).toBe(0);
    await a.close();
    await b.close();
  });

  it('a runtime killed while holding delivered-but-unclaimed messages loses none: others execute each task once', async () => {
    // What the cluster test once proved with a worker process whose claims were delayed: only a
    // claimed task is accepted, so the broker gives back what a dead worker had not claimed yet.
    const slowClock = new ManualClock();
    const slowQueue = new SeverableQueue(world.queue);
    const slowTasks = delayedClaims(world.stores.tasks, 60_000, slowClock);
    const slow = world.runtime('slow', { queue: slowQueue, clock: slowClock, capacity: 3, stores: { tasks: slowTasks, logs: world.stores.logs } });
    await slow.start();
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await world.queuedTask([`step of ${i}`])).id);
    await until(() => slowTasks.waitingClaims === 3 && world.queue.depth === 3, 'the slow runtime holds 3 of 6 messages');
    for (const id of ids) expect(await world.task(id)).toMatchObject({ state: 'QUEUED', workerId: null });

    // SIGKILL: the link is cut and the process never runs again (its clock never moves).
    await slowQueue.sever();
    const rescuers = [world.runtime('rescuer-1', { capacity: 2 }), world.runtime('rescuer-2', { capacity: 2 })];
    for (const rescuer of rescuers) await rescuer.start();
    await until(
      async () => (await Promise.all(ids.map((id) => world.task(id)))).every((t) => t.state === 'EXECUTED'),
      'every task is executed',
    );

    expect(world.steps.started.map((s) => s.taskId).sort()).toEqual([...ids].sort());
    expect(world.steps.started.filter((s) => s.workDir === world.workDirOf('slow'))).toEqual([]);
    for (const id of ids) expect(['rescuer-1', 'rescuer-2']).toContain((await world.task(id)).workerId);
    expect(world.queue.depth).toBe(0);
    expect(slow.stats).toMatchObject({ running: 0, held: 0 });
    for (const rescuer of rescuers) await rescuer.close();
  });

  it('halts at the next step boundary when the task was set STOPPING', async () => {
    world.steps.gated.add('first');
    const runtime = world.runtime('w');
    await runtime.start();
    const task = await world.queuedTask(['first', 'second', 'third']);
    await until(() => world.steps.isWaiting(task.id, 'first'), 'the first step runs');

    expect(await world.stores.tasks.compareAndSet(task.id, 'EXECUTING', { state: 'STOPPING' })).not.toBeNull();
    world.steps.open(task.id, 'first');
    await until(async () => (await world.task(task.id)).state === 'STOPPED', 'the task is stopped');

    expect(await stepStates(task.id)).toEqual(['DONE', 'PENDING', 'PENDING']);
    expect(world.steps.started.map((s) => s.step)).toEqual(['first']);
    await runtime.close();
  });

  /** The harness's task store, with a master's request recorded right after each claim. */
  function requestAfterClaim(state: 'STOPPING' | 'ABORTING') {
    const inner = world.stores.tasks;
    const claim: typeof inner.claim = async (...args) => {
      const claimed = await inner.claim(...args);
      if (claimed) expect(await inner.compareAndSet(claimed.id, 'EXECUTING', { state })).not.toBeNull();
      return claimed;
    };
    return new Proxy(inner, {
      get(target, property) {
        if (property === 'claim') return claim;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  it('applies an abort requested right after the claim at the first step\'s EXECUTING save: the step never starts', async () => {
    world.steps.gated.add('first');
    const statesOf = jest.spyOn(world.stores.tasks, 'statesOf');
    const runtime = world.runtime('w', { stores: { tasks: requestAfterClaim('ABORTING'), logs: world.stores.logs } });
    await runtime.start();
    const task = await world.queuedTask(['first', 'second']);
    await until(async () => (await world.task(task.id)).state === 'ABORTED', 'the task is aborted');

    expect(world.steps.started).toEqual([]);
    expect(await stepStates(task.id)).toEqual(['FAILED', 'PENDING']);
    expect(flattenSteps((await world.task(task.id)).plan)[0].failure).toBe('aborted by user');
    expect(statesOf).not.toHaveBeenCalled();
    await runtime.close();
  });

  it('applies a stop requested right after the claim at the first step\'s EXECUTING save: that step runs, the next does not', async () => {
    const statesOf = jest.spyOn(world.stores.tasks, 'statesOf');
    const runtime = world.runtime('w', { stores: { tasks: requestAfterClaim('STOPPING'), logs: world.stores.logs } });
    await runtime.start();
    const task = await world.queuedTask(['first', 'second']);
    await until(async () => (await world.task(task.id)).state === 'STOPPED', 'the task is stopped');

    expect(world.steps.started.map((s) => s.step)).toEqual(['first']);
    expect(await stepStates(task.id)).toEqual(['DONE', 'PENDING']);
    expect(statesOf).not.toHaveBeenCalled();
    await runtime.close();
  });

  it('aborts on the next watch tick, reading the states of all running tasks in one query', async () => {
    world.steps.gated.add('first');
    const clock = new ManualClock();
    const statesOf = jest.spyOn(world.stores.tasks, 'statesOf');
    const runtime = world.runtime('w', { clock, capacity: 2, watchIntervalMs: 1000 });
    await runtime.start();
    const aborted = await world.queuedTask(['first', 'second']);
    const other = await world.queuedTask(['first', 'second']);
    await until(() => world.steps.isWaiting(aborted.id, 'first') && world.steps.isWaiting(other.id, 'first'), 'both tasks run');

    expect(await world.stores.tasks.compareAndSet(aborted.id, 'EXECUTING', { state: 'ABORTING' })).not.toBeNull();
    statesOf.mockClear();
    await clock.advance(1000);
    await until(async () => (await world.task(aborted.id)).state === 'ABORTED', 'the task is aborted');

    // One read for the tick; the only other reads are of the aborted task at its step boundary.
    const [tick, ...boundary] = statesOf.mock.calls.map(([ids]) => [...ids].sort());
    expect(tick).toEqual([aborted.id, other.id].sort());
    expect(boundary.filter((ids) => ids.join() !== aborted.id)).toEqual([]);
    expect(await stepStates(aborted.id)).toEqual(['FAILED', 'PENDING']);
    expect(flattenSteps((await world.task(aborted.id)).plan)[0].failure).toBe('aborted by user');
    expect(world.steps.killed.map((s) => s.taskId)).toEqual([aborted.id]);
    expect((await world.task(other.id)).state).toBe('EXECUTING');
    world.steps.open(other.id, 'first');
    await until(async () => (await world.task(other.id)).state === 'EXECUTED', 'the other task is executed');
    await runtime.close();
  });

  it('checkpoints every step change to the recovery file before the database', async () => {
    world.steps.gated.add('second');
    const runtime = world.runtime('w');
    await runtime.start();
    const task = await world.queuedTask(['first', 'second']);
    await until(() => world.steps.isWaiting(task.id, 'second'), 'the second step runs');

    const file = join(world.workDirOf('w'), `${task.id}.task`);
    const during = parseRecoveryFile(readFileSync(file, 'utf8'), task.id);
    expect(during).toMatchObject({ format: 'shipdeck-task-recovery', version: 1, workerId: 'w' });
    expect(during.task).toMatchObject({ id: task.id, state: 'EXECUTING', workerId: 'w', attempt: 1 });
    expect(flattenSteps(during.task.plan).map((s) => s.state)).toEqual(['DONE', 'EXECUTING']);
    expect(flattenSteps(during.task.plan)[0].completedAt).toEqual(expect.any(String));

    world.steps.open(task.id, 'second');
    await until(() => runtime.stats.running === 0 && runtime.stats.held === 1, 'the run has ended');
    const after = parseRecoveryFile(readFileSync(file, 'utf8'), task.id);
    expect(after.task).toMatchObject({ state: 'EXECUTED', completedAt: expect.any(String), failure: null });
    expect(flattenSteps(after.task.plan).map((s) => s.state)).toEqual(['DONE', 'DONE']);
    await runtime.close();
  });

  it('records a one-step task with 3 task statements and 2 recovery-file writes: claim, step EXECUTING, end', async () => {
    const statements: string[] = [];
    const inner = world.stores.tasks;
    const tasks = new Proxy(inner, {
      get(target, property) {
        const value: unknown = Reflect.get(target, property, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          statements.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    // What reaches the disk: the content of each file renamed into place.
    const files = jest.spyOn(RecoveryFiles.prototype as unknown as { writeAtomically(id: string, text: string): Promise<void> }, 'writeAtomically');
    const runtime = world.runtime('w', { stores: { tasks, logs: world.stores.logs } });
    await runtime.start();
    statements.length = 0;
    const task = await world.queuedTask(['only']);
    await until(() => runtime.stats.running === 0 && runtime.stats.held === 1, 'the run has ended');

    // Each a single statement in PostgreSQL (the step's log lines go to the step log store).
    expect(statements).toEqual(['claim', 'savePlan', 'compareAndSet']);
    const written = files.mock.calls.map(([, text]) => parseRecoveryFile(text, task.id).task);
    expect(written.map((t) => [t.state, ...flattenSteps(t.plan).map((s) => s.state)])).toEqual([
      ['EXECUTING', 'EXECUTING'],
      ['EXECUTED', 'DONE'],
    ]);
    expect(await world.task(task.id)).toMatchObject({ state: 'EXECUTED', failure: null });
    expect(await stepStates(task.id)).toEqual(['DONE']);
    await runtime.close();
  });

  it('goes through every state with one setter, so observers see CLOSED, and refuses a second start', async () => {
    const seen: WorkerRuntimeState[] = [];
    const clock = new ManualClock();
    const runtime = world.runtime('w', { clock, onStateChange: (state) => seen.push(state) });
    await runtime.start();
    expect(clock.scheduled).toBeGreaterThan(0);
    await runtime.drain('test');
    await runtime.close();
    await runtime.close();
    expect(seen).toEqual(['RUNNING', 'DRAINING', 'CLOSED']);
    expect(runtime.state).toBe('CLOSED');
    expect(clock.scheduled).toBe(0);
    await expect(runtime.start()).rejects.toThrow('worker cannot go CLOSED -> RUNNING');
  });

  /** The runtime's queue, counting the deliveries its consumer got. */
  function countingQueue(): { queue: TaskQueue; deliveries: () => number } {
    let count = 0;
    const inner = world.queue;
    const queue: TaskQueue = {
      publish: (message) => inner.publish(message),
      consume: (options, handler) =>
        inner.consume(options, (delivery) => {
          count++;
          return handler(delivery);
        }),
      checkReady: () => inner.checkReady(),
      close: () => inner.close(),
    };
    return { queue, deliveries: () => count };
  }

  it('hands a message of another live master\'s configuration back after a pause, never drains, and does not spin', async () => {
    const clock = new ManualClock();
    const { queue, deliveries } = countingQueue();
    const states: WorkerRuntimeState[] = [];
    const runtime = world.runtime('w', {
      clock,
      queue,
      configHash: 'another-hash',
      liveMasterHashes: () => ['another-hash', CONFIG_HASH],
      onStateChange: (state) => void states.push(state),
    });
    await runtime.start();
    const task = await world.queuedTask(['first']);
    await until(() => deliveries() === 1 && world.queue.depth === 0, 'the message is delivered and held');
    // Held, not handed back, until the pause is over: no busy loop while no other worker takes it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(deliveries()).toBe(1);
    for (let i = 2; i <= 6; i++) {
      await clock.advance(1000);
      await until(() => deliveries() === i, `delivery ${i}`);
    }
    expect(runtime.state).toBe('RUNNING');
    expect(states).toEqual(['RUNNING']);
    expect(world.steps.started).toEqual([]);
    expect((await world.task(task.id)).state).toBe('QUEUED');
    await runtime.close();
  });

  it('sets aside a message whose configuration no live master has: a few hand backs, then dropped with a warning; no drain', async () => {
    const clock = new ManualClock();
    const { queue, deliveries } = countingQueue();
    const runtime = world.runtime('w', {
      clock,
      queue,
      configHash: 'another-hash',
      liveMasterHashes: () => ['another-hash'],
      setAsideHandBacks: 2,
    });
    await runtime.start();
    const task = await world.queuedTask(['first']);
    for (let i = 1; i <= 2; i++) {
      await until(() => deliveries() === i, `delivery ${i}`);
      await clock.advance(1000);
    }
    await until(() => deliveries() === 3 && world.queue.depth === 0, 'the third delivery is dropped');
    await clock.advance(10_000);
    expect(deliveries()).toBe(3);
    expect(world.queue.depth).toBe(0);
    expect(runtime.state).toBe('RUNNING');
    expect(world.steps.started).toEqual([]);
    // The task is untouched: a master with the current configuration publishes it again.
    expect((await world.task(task.id)).state).toBe('QUEUED');
    await runtime.close();
  });

  it('executes its own configuration\'s messages while others of another configuration wait', async () => {
    const clock = new ManualClock();
    const runtime = world.runtime('w', { clock, capacity: 2, liveMasterHashes: () => [CONFIG_HASH, 'new-hash'] });
    await runtime.start();
    const foreign = await world.queuedTask(['foreign'], { publish: async () => undefined } as unknown as TaskQueue);
    await world.queue.publish({ version: 1, taskId: foreign.id, taskType: 'CONTROL', configHash: 'new-hash', publishedBy: 'm2', publishedAt: 'now' });
    const own = await world.queuedTask(['own']);
    await until(async () => (await world.task(own.id)).state === 'EXECUTED', 'its own task runs');
    expect(runtime.state).toBe('RUNNING');
    expect((await world.task(foreign.id)).state).toBe('QUEUED');
    expect(world.steps.started.map((s) => s.taskId)).toEqual([own.id]);
    await runtime.close();
  });
});

describe('InProcessTaskQueue under a SeverableQueue', () => {
  it('gets back an unsettled delivery when the link is severed, and ignores settling after', async () => {
    const queue = new InProcessTaskQueue();
    const severable = new SeverableQueue(queue);
    let accept: (() => Promise<void>) | undefined;
    await severable.consume({ capacity: 1 }, (delivery) => {
      accept = () => delivery.accept();
      return new Promise(() => undefined);
    });
    await queue.publish({ version: 1, taskId: 't', taskType: 'CONTROL', configHash: 'h', publishedBy: 'm', publishedAt: '' });
    await until(() => accept !== undefined, 'the message is delivered');
    expect(queue.depth).toBe(0);
    await severable.sever();
    await until(() => queue.depth === 1, 'the message is back');
    await accept!();
    expect(queue.depth).toBe(1);
  });
});

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flattenSteps } from '@shipdeck/tasks';
import { ManualClock } from '../testing/manual-clock';
import { RuntimeHarness, until } from '../testing/runtime-harness';
import { INTERRUPTED_STEP } from './interruption';
import { parseRecoveryFile } from './recovery-files';

describe('TaskRecovery and ghost tasks (in-process: SQLite, in-process queue, manual clock)', () => {
  let world: RuntimeHarness;
  beforeEach(async () => (world = await RuntimeHarness.open()));
  afterEach(() => world.close());

  const stepStates = async (id: string) => flattenSteps((await world.task(id)).plan).map((s) => s.state);
  const fileOf = (workerId: string, taskId: string) => join(world.workDirOf(workerId), `${taskId}.task`);

  /** A runtime executing a task whose second step waits; the runtime is then left for dead (never closed). */
  async function crashedWhileExecuting(workerId: string): Promise<string> {
    world.steps.gated.add('second');
    const crashed = world.runtime(workerId);
    await crashed.start();
    const task = await world.queuedTask(['first', 'second', 'third']);
    await until(() => world.steps.isWaiting(task.id, 'second'), 'the second step runs');
    return task.id;
  }

  it('a restart fails the step that was executing, quarantines an unreadable recovery file, and holds the task', async () => {
    const id = await crashedWhileExecuting('w');
    writeFileSync(fileOf('w', 'damaged'), '{"format":"shipdeck-task-recov');

    const restarted = world.runtime('w');
    const report = await restarted.start();

    expect(report).toEqual({ recovered: [id], quarantined: ['damaged'], ghosts: [] });
    expect(readdirSync(join(world.workDirOf('w'), 'quarantine'))).toEqual([expect.stringMatching(/^damaged\.task\.\d+$/)]);
    const recovered = await world.task(id);
    expect(recovered).toMatchObject({ state: 'FAILED', workerId: 'w', failure: `step 1-1-2 failed: ${INTERRUPTED_STEP}` });
    expect(await stepStates(id)).toEqual(['DONE', 'FAILED', 'PENDING']);
    expect(parseRecoveryFile(readFileSync(fileOf('w', id), 'utf8'), id).task.state).toBe('FAILED');
    expect(restarted.heldTasks).toEqual([{ id, type: 'CONTROL', state: 'FAILED' }]);
    await restarted.close();
  });

  it('a restart after a run wrote its end to the recovery file but not yet to the database ends the task from the file', async () => {
    // The last step's end travels with the run's end: recovery file first, then the database. The
    // worker dies in between (its end's compare-and-set never answers).
    const inner = world.stores.tasks;
    const compareAndSet: typeof inner.compareAndSet = (id, expected, patch, owner) =>
      patch.state === 'EXECUTED' ? new Promise(() => undefined) : inner.compareAndSet(id, expected, patch, owner);
    const tasks = new Proxy(inner, {
      get(target, property) {
        if (property === 'compareAndSet') return compareAndSet;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const crashed = world.runtime('w', { stores: { tasks, logs: world.stores.logs } });
    await crashed.start();
    const { id } = await world.queuedTask(['first', 'second']);
    const inFile = () => (existsSync(fileOf('w', id)) ? parseRecoveryFile(readFileSync(fileOf('w', id), 'utf8'), id).task.state : undefined);
    await until(() => inFile() === 'EXECUTED', 'the end is in the recovery file');
    expect(await world.task(id)).toMatchObject({ state: 'EXECUTING' });
    expect(await stepStates(id)).toEqual(['DONE', 'EXECUTING']);

    const restarted = world.runtime('w');
    expect(await restarted.start()).toEqual({ recovered: [id], quarantined: [], ghosts: [] });
    expect(await world.task(id)).toMatchObject({ state: 'EXECUTED', workerId: 'w', failure: null });
    expect(await stepStates(id)).toEqual(['DONE', 'DONE']);
    expect(restarted.heldTasks).toEqual([{ id, type: 'CONTROL', state: 'EXECUTED' }]);
    await restarted.close();
  });

  it('a restart finds a task removed from the monitor meanwhile: a ghost, FAILED locally, registered again on request', async () => {
    const id = await crashedWhileExecuting('w');
    expect(await world.stores.tasks.remove(id)).toBe(true);

    const restarted = world.runtime('w');
    expect(await restarted.start()).toEqual({ recovered: [], quarantined: [], ghosts: [id] });
    expect(restarted.heldTasks).toEqual([]);
    expect(restarted.stats.ghosts).toBe(1);
    const ghost = parseRecoveryFile(readFileSync(fileOf('w', id), 'utf8'), id).task;
    expect(ghost).toMatchObject({ state: 'FAILED', failure: `step 1-1-2 failed: ${INTERRUPTED_STEP}` });

    expect(await restarted.restoreGhostTasks()).toEqual([id]);
    expect(await world.task(id)).toMatchObject({ state: 'FAILED', workerId: 'w' });
    expect(await stepStates(id)).toEqual(['DONE', 'FAILED', 'PENDING']);
    expect(restarted.heldTasks).toEqual([{ id, type: 'CONTROL', state: 'FAILED' }]);
    expect(await restarted.restoreGhostTasks()).toEqual([]);
    await restarted.close();
  });

  it('a restarted runtime knows its ghosts and held tasks before it starts consuming: read once, restorable at once', async () => {
    const ghostId = await crashedWhileExecuting('w');
    expect(await world.stores.tasks.remove(ghostId)).toBe(true);
    const heldId = (await world.queuedTask(['first'])).id;
    expect(await world.stores.tasks.claim(heldId, 'w', new Date(Date.now() + 60_000))).not.toBeNull();

    // A command arriving right after the worker registered: the work directory is read first.
    const restarted = world.runtime('w');
    expect(await restarted.restoreGhostTasks()).toEqual([ghostId]);
    expect(await world.task(ghostId)).toMatchObject({ state: 'FAILED', workerId: 'w' });

    const report = await restarted.recover();
    expect(report).toEqual({ recovered: [heldId], quarantined: [], ghosts: [ghostId] });
    expect(restarted.state).toBe('NEW');
    expect(restarted.heldTasks).toEqual(
      expect.arrayContaining([
        { id: ghostId, type: 'CONTROL', state: 'FAILED' },
        { id: heldId, type: 'CONTROL', state: 'FAILED' },
      ]),
    );
    expect(await restarted.start()).toBe(report);
    await restarted.close();
  });

  it('a restart recovers the tasks the database says it owns without a recovery file, and removes stale temporary files', async () => {
    // A worker killed right after its claims: one task only claimed, one with a step EXECUTING in the
    // database; neither got its recovery file renamed into place, at most a temporary file.
    const claimed = await world.queuedTask(['first']);
    const executing = await world.queuedTask(['first', 'second']);
    const lease = new Date(Date.now() + 60_000);
    expect(await world.stores.tasks.claim(claimed.id, 'w', lease)).not.toBeNull();
    expect(await world.stores.tasks.claim(executing.id, 'w', lease)).not.toBeNull();
    const plan = (await world.task(executing.id)).plan;
    flattenSteps(plan)[0].state = 'EXECUTING';
    expect(await world.stores.tasks.savePlan(executing.id, 'w', plan)).toBe('EXECUTING');
    mkdirSync(world.workDirOf('w'), { recursive: true });
    const temporary = join(world.workDirOf('w'), `.${claimed.id}.${randomUUID()}.tmp`);
    writeFileSync(temporary, '{"format":"shipdeck-task-re');

    const restarted = world.runtime('w');
    const report = await restarted.start();

    expect(report).toEqual({ recovered: expect.arrayContaining([claimed.id, executing.id]), quarantined: [], ghosts: [] });
    expect(report.recovered).toHaveLength(2);
    expect(existsSync(temporary)).toBe(false);
    expect(await world.task(claimed.id)).toMatchObject({ state: 'FAILED', workerId: 'w' });
    expect(await stepStates(claimed.id)).toEqual(['PENDING']);
    expect(await world.task(executing.id)).toMatchObject({ state: 'FAILED', workerId: 'w', failure: `step 1-1-1 failed: ${INTERRUPTED_STEP}` });
    expect(await stepStates(executing.id)).toEqual(['FAILED', 'PENDING']);
    expect(parseRecoveryFile(readFileSync(fileOf('w', claimed.id), 'utf8'), claimed.id).task.state).toBe('FAILED');
    expect(parseRecoveryFile(readFileSync(fileOf('w', executing.id), 'utf8'), executing.id).task.state).toBe('FAILED');
    expect(restarted.heldTasks).toEqual(
      expect.arrayContaining([
        { id: claimed.id, type: 'CONTROL', state: 'FAILED' },
        { id: executing.id, type: 'CONTROL', state: 'FAILED' },
      ]),
    );
    await restarted.close();
  });

  it('housekeeping spots a held task removed from the monitor, and forgets it once archived', async () => {
    const clock = new ManualClock();
    const runtime = world.runtime('w', { clock, housekeepingIntervalMs: 5000 });
    await runtime.start();
    const task = await world.queuedTask(['first']);
    await until(() => runtime.stats.running === 0 && runtime.stats.held === 1, 'the task is executed and held');
    expect(runtime.heldTasks).toEqual([{ id: task.id, type: 'CONTROL', state: 'EXECUTED' }]);

    await world.stores.tasks.remove(task.id);
    await clock.advance(5000);
    expect(runtime.heldTasks).toEqual([]);
    expect(runtime.stats).toMatchObject({ held: 1, ghosts: 1 });

    expect(await runtime.restoreGhostTasks()).toEqual([task.id]);
    expect(runtime.heldTasks).toEqual([{ id: task.id, type: 'CONTROL', state: 'EXECUTED' }]);
    expect(await world.stores.tasks.compareAndSet(task.id, 'EXECUTED', { state: 'DONE' })).not.toBeNull();
    await clock.advance(5000);
    expect(runtime.stats).toMatchObject({ held: 0, ghosts: 0 });
    expect(existsSync(fileOf('w', task.id))).toBe(false);
    await runtime.close();
  });

  it('a runtime whose lease expired loses the task to a takeover and records nothing more of it', async () => {
    world.steps.gated.add('first');
    const slowClock = new ManualClock();
    const adopterClock = new ManualClock();
    const slow = world.runtime('slow', { clock: slowClock, leaseMs: 30_000 });
    const adopter = world.runtime('adopter', { clock: adopterClock, leaseMs: 30_000, takeover: { enabled: true, afterMs: 10_000 } });
    await slow.start();
    const task = await world.queuedTask(['first', 'second']);
    await until(() => world.steps.isWaiting(task.id, 'first'), 'the first step runs on the slow runtime');
    await adopter.start();

    // The slow runtime stands still (a long pause) while time goes on for the adopter.
    await adopterClock.advance(40_000);
    expect(adopter.stats.takeovers).toBe(0);
    await adopterClock.advance(5000);
    expect(adopter.stats.takeovers).toBe(1);
    const adopted = await world.task(task.id);
    expect(adopted).toMatchObject({ state: 'FAILED', workerId: 'adopter', failure: `step 1-1-1 failed: ${INTERRUPTED_STEP}` });

    // Its next lease renewal tells the slow runtime the task is not its own any more.
    await slowClock.advance(10_000);
    await until(() => slow.stats.running === 0, 'the slow run has ended');
    expect(world.steps.killed.map((s) => s.workDir)).toEqual([world.workDirOf('slow')]);
    expect(await world.task(task.id)).toEqual(adopted);
    expect(slow.heldTasks).toEqual([]);
    expect(existsSync(fileOf('slow', task.id))).toBe(false);
    expect(adopter.heldTasks).toEqual([{ id: task.id, type: 'CONTROL', state: 'FAILED' }]);
    await slow.close();
    await adopter.close();
  });
});

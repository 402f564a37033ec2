import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TaskRecord, advanceTask, startPatch } from '@shipdeck/tasks';
import type { RecoveryFile } from './recovery-files';
import { ManualClock } from '../testing/manual-clock';
import { RuntimeHarness, until } from '../testing/runtime-harness';
import { TaskRun } from './task-run';

/** A task store whose writes of ABORTED reach the database at once but answer only when the test releases them. */
function heldAbortedWrites(tasks: RuntimeHarness['stores']['tasks']) {
  let waiting = 0;
  let release: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (release = resolve));
  const compareAndSet: typeof tasks.compareAndSet = async (...args) => {
    const written = await tasks.compareAndSet(...args);
    if (args[2].state !== 'ABORTED') return written;
    waiting++;
    await released;
    return written;
  };
  const store = new Proxy(tasks, {
    get(target, property) {
      if (property === 'compareAndSet') return compareAndSet;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store, release, waiting: () => waiting };
}

describe('TaskRun: the end of a run and a newer run of the same task on the same worker', () => {
  let world: RuntimeHarness;
  beforeEach(async () => (world = await RuntimeHarness.open()));
  afterEach(async () => {
    jest.restoreAllMocks();
    await world.close();
  });

  it('a run that has recorded ABORTED leaves the entry of a newer run claimed meanwhile: its abort still reaches its command', async () => {
    // Every run's promise, to know when the first one has got through its `finally`.
    const runs: Promise<void>[] = [];
    const run = TaskRun.prototype.run;
    jest.spyOn(TaskRun.prototype, 'run').mockImplementation(function (this: TaskRun) {
      const ran = run.call(this);
      runs.push(ran);
      return ran;
    });
    world.steps.gated.add('first');
    const clock = new ManualClock();
    const held = heldAbortedWrites(world.stores.tasks);
    const runtime = world.runtime('w', { clock, capacity: 2, watchIntervalMs: 1000, stores: { tasks: held.store, logs: world.stores.logs } });
    await runtime.start();
    const task: TaskRecord = await world.queuedTask(['first']);
    try {
      await until(() => world.steps.isWaiting(task.id, 'first'), 'the first run executes its step');

      // The first run is aborted; its end is in the database, but the run has not heard back yet.
      expect(await world.stores.tasks.compareAndSet(task.id, 'EXECUTING', { state: 'ABORTING' })).not.toBeNull();
      await clock.advance(1000);
      await until(() => held.waiting() === 1, 'the first run records ABORTED');
      expect((await world.task(task.id)).state).toBe('ABORTED');

      // Meanwhile the task is started again and this worker claims it: a second run executes it.
      const restarted = await advanceTask(world.stores.tasks, task.id, 'start', (current) => startPatch(current, new Date().toISOString()));
      expect(restarted?.state).toBe('QUEUED');
      await world.publish(task.id);
      await until(() => world.steps.isWaiting(task.id, 'first'), 'the second run executes its step');
      expect(runs).toHaveLength(2);

      // The first run hears back and ends: the second run stays running here.
      held.release();
      await runs[0];
      expect(runtime.runningTaskIds).toEqual([task.id]);
      // Its recovery file is the second run's, not overwritten with the first run's end.
      const file = JSON.parse(await readFile(join(world.workDirOf('w'), `${task.id}.task`), 'utf8')) as RecoveryFile;
      expect([file.task.state, file.task.attempt]).toEqual(['EXECUTING', restarted?.attempt]);
      expect(runtime.heldTasks).toEqual([{ id: task.id, type: 'CONTROL', state: 'EXECUTING' }]);

      // An abort of the second run reaches its command.
      expect(await world.stores.tasks.compareAndSet(task.id, 'EXECUTING', { state: 'ABORTING' })).not.toBeNull();
      await clock.advance(1000);
      await until(async () => (await world.task(task.id)).state === 'ABORTED', 'the second run is aborted');
      await runs[1];
      expect(world.steps.killed.map((s) => s.taskId)).toEqual([task.id, task.id]);
      expect(runtime.runningTaskIds).toEqual([]);
    } finally {
      // Whatever failed above: no run left waiting, so that the runtime closes.
      held.release();
      if (world.steps.isWaiting(task.id, 'first')) world.steps.open(task.id, 'first');
      await runtime.close();
    }
  });
});

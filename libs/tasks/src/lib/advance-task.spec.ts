import { IllegalTransitionError } from '@shipdeck/errors';
import { TaskPatch, TaskStateStore, advanceTask, allows } from './advance-task';
import { StepSpec } from './plan';
import { buildPlan, flattenSteps } from './plan-ops';
import { started } from './start-task';
import { TASK_EVENTS, TASK_OPERATIONS, nextState } from './state-machine';
import { TASK_STATES, TaskState } from './states';
import { TaskRecord } from './task';

const task = (state: TaskState, workerId: string | null = null): TaskRecord => ({
  id: 't1',
  type: 'CONTROL',
  description: 'd',
  state,
  plan: { phases: [] },
  workerId,
  leaseUntil: null,
  attempt: 1,
  deployment: null,
  control: null,
  scheduledAt: null,
  createdAt: '2026-01-01T00:00:00.000Z',
  queuedAt: null,
  claimedAt: null,
  startedAt: null,
  completedAt: null,
  failure: null,
});

const step = (description: string): StepSpec => ({
  description,
  order: 50,
  ciType: 'test.Step',
  operation: 'CREATE',
  target: { name: 'h1', type: 'local' },
  properties: {},
});

/** One task in memory; `interfere` changes it between a read and the next compare-and-set. */
class MemoryTasks implements TaskStateStore {
  readonly writes: { expected: TaskState; patch: TaskPatch; owner?: string }[] = [];
  interfere: (() => void) | undefined;

  constructor(public current: TaskRecord | null) {}

  async get(): Promise<TaskRecord | null> {
    const answer = this.current && { ...this.current };
    const interfere = this.interfere;
    this.interfere = undefined;
    interfere?.();
    return answer;
  }

  async compareAndSet(_id: string, expected: TaskState, patch: TaskPatch, owner?: string): Promise<TaskRecord | null> {
    this.writes.push({ expected, patch, owner });
    if (!this.current || this.current.state !== expected) return null;
    if (owner !== undefined && this.current.workerId !== owner) return null;
    this.current = { ...this.current, ...patch };
    return { ...this.current };
  }
}

describe('advanceTask', () => {
  it('sets the next state and the patch with one compare-and-set on the state read', async () => {
    const tasks = new MemoryTasks(task('EXECUTING', 'w1'));
    const done = await advanceTask(tasks, 't1', 'completed', (_current, next) => ({ failure: `now ${next}` }));
    expect(done).toMatchObject({ state: 'EXECUTED', failure: 'now EXECUTED' });
    expect(tasks.writes).toEqual([{ expected: 'EXECUTING', patch: { failure: 'now EXECUTED', state: 'EXECUTED' }, owner: undefined }]);
  });

  it('decides the action from the current state', async () => {
    const tasks = new MemoryTasks(task('ABORTING', 'w1'));
    const decided = await advanceTask(tasks, 't1', (current) => (current.state === 'ABORTING' ? 'aborted' : 'failed'));
    expect(decided?.state).toBe('ABORTED');
  });

  it('reads again and retries when another process changed the state in between', async () => {
    const tasks = new MemoryTasks(task('EXECUTING', 'w1'));
    tasks.interfere = () => (tasks.current = { ...tasks.current!, state: 'STOPPING' });
    const stopped = await advanceTask(tasks, 't1', 'halted');
    expect(stopped?.state).toBe('STOPPED');
    expect(tasks.writes.map((w) => w.expected)).toEqual(['EXECUTING', 'STOPPING']);
  });

  it('leaves a task alone that is gone or owned by another worker', async () => {
    expect(await advanceTask(new MemoryTasks(null), 't1', 'completed')).toBeNull();
    const adopted = new MemoryTasks(task('EXECUTING', 'w2'));
    expect(await advanceTask(adopted, 't1', 'completed', undefined, 'w1')).toBeNull();
    expect(adopted.writes).toEqual([]);
  });

  it('passes the owner on, so a task adopted between read and write is not changed', async () => {
    const tasks = new MemoryTasks(task('EXECUTING', 'w1'));
    tasks.interfere = () => (tasks.current = { ...tasks.current!, workerId: 'w2' });
    expect(await advanceTask(tasks, 't1', 'completed', undefined, 'w1')).toBeNull();
    expect(tasks.current?.state).toBe('EXECUTING');
    expect(tasks.writes).toHaveLength(1);
  });

  it('throws IllegalTransitionError for an action the current state does not allow', async () => {
    const tasks = new MemoryTasks(task('QUEUED'));
    await expect(advanceTask(tasks, 't1', 'completed')).rejects.toBeInstanceOf(IllegalTransitionError);
    expect(tasks.writes).toEqual([]);
  });

  it('tries the known record first and reads only when it is stale', async () => {
    const fresh = new MemoryTasks(task('EXECUTING', 'w1'));
    fresh.get = () => Promise.reject(new Error('no read expected'));
    expect((await advanceTask(fresh, 't1', 'completed', undefined, 'w1', task('EXECUTING', 'w1')))?.state).toBe('EXECUTED');
    expect(fresh.writes.map((w) => w.expected)).toEqual(['EXECUTING']);

    // The master asked for an abort meanwhile: the guess's compare-and-set fails, the read decides.
    const aborting = new MemoryTasks(task('ABORTING', 'w1'));
    const decide = (current: TaskRecord) => (current.state === 'ABORTING' ? 'aborted' : 'completed');
    expect((await advanceTask(aborting, 't1', decide, undefined, 'w1', task('EXECUTING', 'w1')))?.state).toBe('ABORTED');
    expect(aborting.writes.map((w) => w.expected)).toEqual(['EXECUTING', 'ABORTING']);

    // A guess that allows no such action, or names another owner, is not tried: the read decides.
    const queued = new MemoryTasks(task('EXECUTING', 'w1'));
    expect((await advanceTask(queued, 't1', 'completed', undefined, 'w1', task('QUEUED', 'w1')))?.state).toBe('EXECUTED');
    const adopted = new MemoryTasks(task('EXECUTING', 'w2'));
    expect(await advanceTask(adopted, 't1', 'completed', undefined, 'w1', task('EXECUTING', 'w2'))).toBeNull();
    expect([...queued.writes, ...adopted.writes].map((w) => w.expected)).toEqual(['EXECUTING']);
  });

  it('gives up when the task keeps changing', async () => {
    const tasks = new MemoryTasks(task('EXECUTING', 'w1'));
    tasks.compareAndSet = async (...args) => {
      tasks.writes.push({ expected: args[1], patch: args[2] });
      return null;
    };
    await expect(advanceTask(tasks, 't1', 'completed')).rejects.toThrow(/kept changing under 20 attempts/);
    expect(tasks.writes).toHaveLength(20);
  });
});

describe('allows', () => {
  it('agrees with the state machine for every state and action, without throwing', () => {
    for (const state of TASK_STATES) {
      for (const action of [...TASK_OPERATIONS, ...TASK_EVENTS]) {
        expect({ state, action, allowed: allows(state, action) }).toEqual({ state, action, allowed: nextState(state, action) !== undefined });
      }
    }
    expect(allows('EXECUTING', 'stepFailed')).toBe(true);
    expect(allows('ABORTING', 'stepFailed')).toBe(false);
  });
});

describe('started (a task created started)', () => {
  it('is the task as a start leaves it: QUEUED by the state machine, a new attempt, failed steps to run again', () => {
    const failed = { ...task('FAILED'), plan: buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [step('a'), step('b')] }] }]) };
    flattenSteps(failed.plan)[1].state = 'FAILED';
    const queuedAt = '2026-01-02T00:00:00.000Z';
    expect(started(failed, queuedAt)).toMatchObject({ state: 'QUEUED', attempt: 2, queuedAt, failure: null, completedAt: null });
    expect(flattenSteps(started(failed, queuedAt).plan).map((s) => s.state)).toEqual(['PENDING', 'PENDING']);
    expect(flattenSteps(failed.plan)[1].state).toBe('FAILED');
  });

  it('refuses a state that start does not leave', () => {
    expect(() => started(task('EXECUTING'), '2026-01-02T00:00:00.000Z')).toThrow(IllegalTransitionError);
  });
});

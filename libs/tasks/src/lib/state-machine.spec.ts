import { IllegalTransitionError } from '@shipdeck/errors';
import { TASK_EVENTS, TASK_OPERATIONS, TaskAction, nextState, statesAllowing, transition } from './state-machine';
import { TASK_STATES, TaskState } from './states';

/** The expected table, written out independently of the implementation (spec §2). */
const EXPECTED: Record<TaskAction, Partial<Record<TaskState, TaskState>>> = {
  start: { PENDING: 'QUEUED', STOPPED: 'QUEUED', FAILED: 'QUEUED', ABORTED: 'QUEUED' },
  schedule: { PENDING: 'SCHEDULED' },
  stop: { EXECUTING: 'STOPPING' },
  abort: { EXECUTING: 'ABORTING', STOPPING: 'ABORTING' },
  cancel: {
    PENDING: 'CANCELLING',
    SCHEDULED: 'CANCELLING',
    QUEUED: 'CANCELLING',
    STOPPED: 'CANCELLING',
    FAILED: 'CANCELLING',
    ABORTED: 'CANCELLING',
  },
  archive: { EXECUTED: 'DONE' },
  due: { SCHEDULED: 'QUEUED' },
  claimed: { QUEUED: 'EXECUTING' },
  stepFailed: { EXECUTING: 'FAILING', STOPPING: 'FAILING', FAILING: 'FAILING' },
  completed: { EXECUTING: 'EXECUTED', STOPPING: 'EXECUTED' },
  halted: { EXECUTING: 'STOPPED', STOPPING: 'STOPPED' },
  failed: { EXECUTING: 'FAILED', STOPPING: 'FAILED', FAILING: 'FAILED' },
  aborted: { ABORTING: 'ABORTED' },
  cancelled: { CANCELLING: 'CANCELLED' },
  interrupted: { EXECUTING: 'FAILED', STOPPING: 'FAILED', FAILING: 'FAILED', ABORTING: 'ABORTED' },
};

const ACTIONS: TaskAction[] = [...TASK_OPERATIONS, ...TASK_EVENTS];
const PAIRS = ACTIONS.flatMap((action) => TASK_STATES.map((state) => [state, action] as const));

describe('task state machine', () => {
  it('covers every (state × action) pair', () => {
    expect(PAIRS).toHaveLength(TASK_STATES.length * ACTIONS.length);
  });

  it.each(PAIRS)('%s + %s', (state, action) => {
    const expected = EXPECTED[action][state];
    expect(nextState(state, action)).toBe(expected);
    if (expected === undefined) {
      expect(() => transition(state, action)).toThrow(IllegalTransitionError);
      try {
        transition(state, action);
      } catch (error) {
        expect((error as IllegalTransitionError).code).toBe('ILLEGAL_TRANSITION');
        expect((error as Error).message).toBe(`cannot ${action} a task in state ${state}`);
      }
    } else {
      expect(transition(state, action)).toBe(expected);
    }
  });

  it('never leaves DONE or CANCELLED', () => {
    for (const action of ACTIONS) {
      expect(nextState('DONE', action)).toBeUndefined();
      expect(nextState('CANCELLED', action)).toBeUndefined();
    }
  });

  it('lists the states an action is allowed from', () => {
    expect(statesAllowing('abort').sort()).toEqual(['EXECUTING', 'STOPPING']);
  });
});

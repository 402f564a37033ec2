import { buildPlan, flattenSteps, TaskRecord } from '@shipdeck/tasks';
import { INTERRUPTED_STEP, interruptPlan, interruptionAction } from './interruption';

const plan = () =>
  buildPlan([
    {
      description: 'p',
      blocks: [
        {
          description: 'b',
          parallel: false,
          steps: [1, 2, 3].map((n) => ({ description: `s${n}`, order: n, ciType: 'x', operation: 'CREATE', target: { name: 'h', type: 'local' }, properties: {} })),
        },
      ],
    },
  ]);

describe('interruption', () => {
  it('fails the executing step and leaves the others', () => {
    const p = plan();
    const steps = flattenSteps(p);
    steps[0].state = 'DONE';
    steps[1].state = 'EXECUTING';
    const recovered = interruptPlan(p);
    expect(flattenSteps(recovered).map((s) => s.state)).toEqual(['DONE', 'FAILED', 'PENDING']);
    expect(flattenSteps(recovered)[1].failure).toBe(INTERRUPTED_STEP);
    expect(steps[1].state).toBe('EXECUTING');
  });

  it('ends a task FAILED, EXECUTED when all steps were done, ABORTED when aborting', () => {
    const p = plan();
    const task = { state: 'EXECUTING' } as TaskRecord;
    flattenSteps(p)[0].state = 'FAILED';
    expect(interruptionAction(task, p)).toBe('interrupted');
    for (const s of flattenSteps(p)) s.state = 'DONE';
    expect(interruptionAction(task, p)).toBe('completed');
    expect(interruptionAction({ state: 'ABORTING' } as TaskRecord, p)).toBe('aborted');
  });
});

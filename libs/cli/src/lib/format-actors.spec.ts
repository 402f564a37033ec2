import { taskView } from '../test-support/task-views';
import { taskDetails } from './format';

const task = taskView('DONE');

describe('taskDetails: who acted on the task', () => {
  it('shows one actors line with what was done, by whom and when', () => {
    const shown = taskDetails({
      ...task,
      actors: {
        createdBy: { user: 'dora', at: '2030-01-01T00:00:00.000Z' },
        startedBy: { user: 'dora', at: '2030-01-01T00:01:00.000Z' },
        stoppedBy: null,
        cancelledBy: null,
        archivedBy: { user: 'ada', at: '2030-01-01T00:02:00.000Z' },
      },
    });
    expect(shown).toContain(
      'actors:      created by dora (2030-01-01T00:00:00.000Z), started by dora (2030-01-01T00:01:00.000Z), archived by ada (2030-01-01T00:02:00.000Z)',
    );
  });

  it('shows no actors line when nobody is known, or when the view has none', () => {
    const nobody = { createdBy: null, startedBy: null, stoppedBy: null, cancelledBy: null, archivedBy: null };
    expect(taskDetails({ ...task, actors: nobody })).not.toContain('actors:');
    expect(taskDetails(task)).not.toContain('actors:');
  });
});

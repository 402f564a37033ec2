import type { StepView, TaskView } from '@shipdeck/tasks';

/** The description of the first step of the petclinic deployment the CLI specs show. */
export const CONFIG = 'Create app-config on local';
/** The description of its second step. */
export const APP = 'Create app on local';

/** A step of the deployment plan as the API shows it: order 50 on the host `local`, not started. */
export function stepView(path: string, state: StepView['state'], description: string, failure: string | null = null): StepView {
  return {
    path,
    description,
    state,
    order: 50,
    host: 'local',
    ciType: 'cmd.Command',
    operation: 'CREATE',
    pauseBefore: false,
    startedAt: null,
    completedAt: null,
    failure,
  };
}

/**
 * The task `t1` deploying petclinic 1.0.0 to dev, as the API shows it: in `state`, with `steps`
 * in one block of one phase, and `extra` over the rest.
 */
export function taskView(state: TaskView['state'], steps: StepView[] = [], extra: Partial<TaskView> = {}): TaskView {
  return {
    id: 't1',
    type: 'DEPLOYMENT',
    description: 'Deploy petclinic 1.0.0 to dev',
    state,
    worker: null,
    attempt: 0,
    application: 'petclinic',
    version: '1.0.0',
    environment: 'dev',
    kind: 'INITIAL',
    failure: null,
    createdAt: '2030-01-01T00:00:00.000Z',
    scheduledAt: null,
    queuedAt: null,
    claimedAt: null,
    startedAt: null,
    completedAt: null,
    plan: {
      state: 'PENDING',
      phases: [{ path: '1', description: 'Deploy', state: 'PENDING', blocks: [{ path: '1-1', description: 'Deploy on local', state: 'PENDING', parallel: false, steps }] }],
    },
    steps,
    ...extra,
  };
}

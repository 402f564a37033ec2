import { ErrorCode, ShipdeckError } from '@shipdeck/errors';
import { TaskOperation, TaskState, TaskView } from '@shipdeck/tasks';
import { GRACE_PERIOD_MS, InMemoryMaster, fakeSession, petclinicManifest, startInMemoryMaster } from '../testing';

let master: InMemoryMaster;

afterEach(() => master?.close());

/** How many deployments this test created: each after the first goes to its own environment. */
let deployments = 0;

async function start(mode: 'embedded' | 'cluster' = 'embedded'): Promise<void> {
  deployments = 0;
  master = await startInMemoryMaster({ mode });
  await master.seedCatalog();
  await master.services.catalog.importPackage(petclinicManifest());
}

/**
 * Creates a PENDING deployment of petclinic: to `dev` first, then to `dev-2`, `dev-3`…, as only
 * one deployment per application and environment may be unfinished at a time.
 */
async function deploy(): Promise<TaskView> {
  deployments += 1;
  const environment = deployments === 1 ? 'dev' : `dev-${deployments}`;
  if (deployments > 1) await master.services.catalog.putEnvironment({ name: environment, hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } });
  return master.services.deployments.createDeployment({ application: 'petclinic', version: '1.0.0', environment });
}

/** Starts a task and claims it as `workerId` does, so that it is EXECUTING there. */
async function executing(workerId = master.worker.workerId): Promise<TaskView> {
  const task = await deploy();
  await master.services.tasks.operate(task.id, 'start');
  const leaseUntil = new Date(master.clock.current.getTime() + 60_000);
  expect(await master.stores.tasks.claim(task.id, workerId, leaseUntil)).not.toBeNull();
  return master.services.tasks.getTask(task.id);
}

/** Moves a task to `state` as its worker would report it. */
async function reported(task: TaskView, state: TaskState): Promise<void> {
  expect(await master.stores.tasks.compareAndSet(task.id, task.state as TaskState, { state })).not.toBeNull();
}

async function refusal(operation: TaskOperation, id: string): Promise<{ code: ErrorCode; message: string }> {
  const error = await master.services.tasks.operate(id, operation).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ShipdeckError)) throw new Error(`${operation} was not refused`);
  return { code: error.code, message: error.message };
}

describe('TaskOperationsService', () => {
  beforeEach(() => start());

  it('start queues a PENDING task and publishes its message', async () => {
    const task = await deploy();
    master.clock.advance(5_000);
    const queued = await master.services.tasks.operate(task.id, 'start');
    expect(queued).toMatchObject({ state: 'QUEUED', attempt: 1, queuedAt: master.clock.current.toISOString() });
    expect(master.queue.published).toEqual([
      expect.objectContaining({ taskId: task.id, taskType: 'DEPLOYMENT', configHash: 'hash', publishedBy: 'master-test' }),
    ]);
    expect(await refusal('start', task.id)).toEqual({
      code: ErrorCode.ILLEGAL_TRANSITION,
      message: 'cannot start a task in state QUEUED',
    });
  });

  it('a restart after a failure runs the failed step again, not the done ones', async () => {
    const task = await executing();
    const plan = structuredClone((await master.stores.tasks.get(task.id))!.plan);
    plan.phases[0].blocks[0].steps[0].state = 'DONE';
    plan.phases[0].blocks[1].steps[0].state = 'FAILED';
    await master.stores.tasks.compareAndSet(task.id, 'EXECUTING', { state: 'FAILED', plan });
    const again = await master.services.tasks.operate(task.id, 'start');
    expect(again).toMatchObject({ state: 'QUEUED', attempt: 2 });
    expect(again.steps.map((s) => s.state)).toEqual(['DONE', 'PENDING']);
  });

  it('stop and abort an EXECUTING task and deliver the request to its worker', async () => {
    const first = await executing();
    expect(await master.services.tasks.operate(first.id, 'stop')).toMatchObject({ state: 'STOPPING' });
    expect(await master.services.tasks.operate(first.id, 'abort')).toMatchObject({ state: 'ABORTING' });
    expect(master.worker.stops).toEqual([first.id]);
    expect(master.worker.aborts).toEqual([first.id]);
    expect((await refusal('stop', first.id)).code).toBe(ErrorCode.ILLEGAL_TRANSITION);
  });

  it.each([
    ['stop', 'PENDING'],
    ['abort', 'PENDING'],
    ['archive', 'PENDING'],
    ['cancel', 'EXECUTING'],
    ['start', 'EXECUTING'],
    ['schedule', 'EXECUTING'],
  ] as const)('refuses %s in state %s with ILLEGAL_TRANSITION', async (operation, state) => {
    const task = state === 'PENDING' ? await deploy() : await executing();
    expect(await refusal(operation, task.id)).toEqual({
      code: ErrorCode.ILLEGAL_TRANSITION,
      message: `cannot ${operation} a task in state ${state}`,
    });
    expect((await master.services.tasks.getTask(task.id)).state).toBe(state);
    expect(master.worker.stops).toEqual([]);
  });

  it('cancel ends a task that is not executing and moves it to the archive', async () => {
    const task = await deploy();
    master.clock.advance(60_000);
    const cancelled = await master.services.tasks.operate(task.id, 'cancel');
    expect(cancelled).toMatchObject({ state: 'CANCELLED', completedAt: master.clock.current.toISOString() });
    expect(await master.services.tasks.listTasks({})).toEqual([]);
    expect((await master.services.tasks.listArchive({})).map((t) => [t.id, t.state])).toEqual([[task.id, 'CANCELLED']]);
  });

  it('archive records what an EXECUTED deployment deployed', async () => {
    const task = await executing();
    await reported(task, 'EXECUTED');
    const done = await master.services.tasks.operate(task.id, 'archive');
    expect(done).toMatchObject({ state: 'DONE', completedAt: master.clock.current.toISOString() });
    const [deployed] = await master.services.catalog.getDeployed('dev');
    expect(deployed).toMatchObject({ application: 'petclinic', version: '1.0.0' });
    expect(deployed.deployeds.map((d) => d.deployable).sort()).toEqual(['app', 'app-config']);
    expect(await refusal('archive', task.id)).toEqual({
      code: ErrorCode.ILLEGAL_TRANSITION,
      message: 'cannot archive a task in state DONE',
    });
  });

  it('schedule keeps the time, and the task answers 404 once it is unknown', async () => {
    const task = await deploy();
    const at = new Date('2030-06-01T12:00:00.000Z');
    expect(await master.services.tasks.operate(task.id, 'schedule', { at })).toMatchObject({
      state: 'SCHEDULED',
      scheduledAt: at.toISOString(),
    });
    expect((await refusal('start', 'no-such-task')).code).toBe(ErrorCode.TASK_NOT_FOUND);
  });

  it('changes the plan only while the task is not executing', async () => {
    const task = await deploy();
    expect((await master.services.tasks.skipStep(task.id, '1-1-1')).steps[0].state).toBe('SKIPPED');
    expect((await master.services.tasks.unskipStep(task.id, '1-1-1')).steps[0].state).toBe('PENDING');
    expect((await master.services.tasks.pauseBefore(task.id, '1-2-1')).steps[1].pauseBefore).toBe(true);
    await expect(master.services.tasks.skipStep(task.id, '9-9-9')).rejects.toMatchObject({ code: ErrorCode.STEP_NOT_FOUND });
    const running = await executing();
    await expect(master.services.tasks.skipStep(running.id, '1-1-1')).rejects.toMatchObject({
      code: ErrorCode.ILLEGAL_TRANSITION,
      message: 'cannot skip a task in state EXECUTING',
    });
  });

  it('reads step logs and filters the task list', async () => {
    const pending = await deploy();
    // The list is oldest first: the second task is created a second later.
    master.clock.advance(1_000);
    const running = await executing();
    await master.stores.logs.append(running.id, '1-1-1', 'installing\n');
    expect(await master.services.tasks.readStepLog(running.id, '1-1-1')).toBe('installing\n');
    expect(await master.services.tasks.readStepLog(pending.id, '1-2-1')).toBe('');
    await expect(master.services.tasks.readStepLog(pending.id, '3')).rejects.toMatchObject({ code: ErrorCode.STEP_NOT_FOUND });
    const ids = async (filter: Parameters<typeof master.services.tasks.listTasks>[0]) =>
      (await master.services.tasks.listTasks(filter)).map((t) => t.id);
    expect(await ids({})).toEqual([pending.id, running.id]);
    expect(await ids({ state: 'EXECUTING' })).toEqual([running.id]);
    expect(await ids({ worker: master.worker.workerId })).toEqual([running.id]);
    expect(await ids({ type: 'CONTROL' })).toEqual([]);
  });

  it('removes only tasks shown UNKNOWN', async () => {
    const task = await deploy();
    await expect(master.services.tasks.removeTask(task.id)).rejects.toMatchObject({
      code: ErrorCode.ILLEGAL_TRANSITION,
      message: 'cannot remove a task in state PENDING',
    });
  });
});

describe('TaskOperationsService with external workers', () => {
  beforeEach(() => start('cluster'));

  it('shows the tasks of a silent worker UNKNOWN after the grace period, refuses to operate them, and removes them', async () => {
    const session = fakeSession('w1', master.clock);
    await master.cluster!.connected(session);
    const task = await executing('w1');
    expect(task.state).toBe('EXECUTING');

    master.cluster!.disconnected(session, 'socket closed');
    master.clock.advance(GRACE_PERIOD_MS - 1);
    expect((await master.services.tasks.getTask(task.id)).state).toBe('EXECUTING');
    master.clock.advance(2);
    expect((await master.services.tasks.getTask(task.id)).state).toBe('UNKNOWN');
    expect((await master.services.tasks.listTasks({ state: 'UNKNOWN' })).map((t) => t.id)).toEqual([task.id]);
    expect(await refusal('stop', task.id)).toEqual({ code: ErrorCode.ILLEGAL_TRANSITION, message: 'cannot stop a task in state UNKNOWN' });
    await expect(master.services.tasks.skipStep(task.id, '1-1-1')).rejects.toMatchObject({ code: ErrorCode.ILLEGAL_TRANSITION });

    await master.services.tasks.removeTask(task.id);
    expect(await master.services.tasks.listTasks({})).toEqual([]);
    await expect(master.services.tasks.getTask(task.id)).rejects.toMatchObject({ code: ErrorCode.TASK_NOT_FOUND });
  });
});

import { ErrorCode, ShipdeckError } from '@shipdeck/errors';
import { TaskRecord, flattenSteps } from '@shipdeck/tasks';
import { InMemoryMaster, RecordingQueue, petclinicManifest, startInMemoryMaster } from '../testing';
import { Reconciler } from './reconciler';
import { TaskAnnouncer } from './task-announcer';

let master: InMemoryMaster;

beforeEach(async () => {
  master = await startInMemoryMaster();
  await master.seedCatalog();
  await master.services.catalog.importPackage(petclinicManifest('1.0.0'));
});

afterEach(() => master.close());

const request = { application: 'petclinic', version: '1.0.0', environment: 'dev' };

/** The code of the ShipdeckError `promise` rejects with. */
async function codeOf(promise: Promise<unknown>): Promise<ErrorCode> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof ShipdeckError)) throw new Error(`expected a ShipdeckError, got ${String(error)}`);
  return error.code;
}

describe('DeploymentService', () => {
  it('previews an INITIAL deployment without creating a task', async () => {
    const preview = await master.services.deployments.previewDeployment(request);
    expect(preview.kind).toBe('INITIAL');
    expect(preview.deployeds.map((d) => d.deployable).sort()).toEqual(['app', 'app-config']);
    expect(preview.plan.phases[0].blocks.flatMap((b) => b.steps.map((s) => s.state))).toEqual(['PENDING', 'PENDING']);
    expect(await master.services.tasks.listTasks({})).toEqual([]);
  });

  it('creates a PENDING deployment task with the requested skips and pauses, stamped by the clock', async () => {
    const task = await master.services.deployments.createDeployment({ ...request, skipSteps: ['1-1-1'], pauseBefore: ['1-2-1'] });
    expect(task).toMatchObject({
      state: 'PENDING',
      type: 'DEPLOYMENT',
      description: 'Deploy petclinic 1.0.0 to dev',
      createdAt: master.clock.current.toISOString(),
      kind: 'INITIAL',
    });
    expect(task.steps.map((s) => [s.path, s.state, s.pauseBefore])).toEqual([
      ['1-1-1', 'SKIPPED', false],
      ['1-2-1', 'PENDING', true],
    ]);
    expect((await master.services.tasks.getTask(task.id)).steps).toEqual(task.steps);
    expect(master.queue.published).toEqual([]);
  });

  it('names every unknown step path of the request and creates nothing', async () => {
    const creating = master.services.deployments.createDeployment({ ...request, skipSteps: ['1-1-1', '7'], pauseBefore: ['1-9'] });
    await expect(creating).rejects.toMatchObject({
      code: ErrorCode.VALIDATION_FAILED,
      details: [expect.objectContaining({ field: 'skipSteps[1]' }), expect.objectContaining({ field: 'pauseBefore[0]' })],
    });
    expect(await master.services.tasks.listTasks({})).toEqual([]);
  });

  it('tells a missing application, version and environment apart', async () => {
    const { deployments } = master.services;
    expect(await codeOf(deployments.previewDeployment({ ...request, application: 'nope' }))).toBe(ErrorCode.APPLICATION_NOT_FOUND);
    await expect(deployments.previewDeployment({ ...request, version: '9' })).rejects.toMatchObject({
      code: ErrorCode.VERSION_NOT_FOUND,
      message: 'application petclinic has no version 9 (known: 1.0.0)',
    });
    expect(await codeOf(deployments.createDeployment({ ...request, environment: 'prod' }))).toBe(ErrorCode.ENVIRONMENT_NOT_FOUND);
  });

  it('plans an UPDATE once a deployment is archived, and an undeployment of what is deployed', async () => {
    const { deployments, tasks } = master.services;
    expect(await codeOf(deployments.createUndeployment({ application: 'petclinic', environment: 'dev' }))).toBe(ErrorCode.NOT_DEPLOYED);
    const first = await deployments.createDeployment(request);
    await master.stores.tasks.compareAndSet(first.id, 'PENDING', { state: 'EXECUTED' });
    await tasks.operate(first.id, 'archive');
    expect(await master.services.catalog.getDeployed('dev')).toEqual([
      expect.objectContaining({ application: 'petclinic', version: '1.0.0' }),
    ]);

    await master.services.catalog.importPackage(petclinicManifest('2.0.0'));
    const update = await deployments.previewDeployment({ ...request, version: '2.0.0' });
    expect(update.kind).toBe('UPDATE');
    expect(update.delta.map((d) => [d.operation, d.next?.deployable]).sort()).toEqual([
      ['MODIFY', 'app'],
      ['NOOP', 'app-config'],
    ]);

    const undeploy = await deployments.createUndeployment({ application: 'petclinic', environment: 'dev' });
    expect(undeploy).toMatchObject({ description: 'Undeploy petclinic 1.0.0 from dev', kind: 'UNDEPLOY', state: 'PENDING' });
    expect(undeploy.steps.map((s) => s.operation)).toEqual(expect.arrayContaining(['DESTROY']));
  });
});

describe('DeploymentService: one unfinished deployment per application and environment', () => {
  it('refuses a second deployment while the first is PENDING, naming it, and creates nothing', async () => {
    const { deployments, tasks } = master.services;
    const first = await deployments.createDeployment(request);
    const refused = { code: ErrorCode.CONFLICT, message: expect.stringContaining(`task ${first.id} (PENDING: Deploy petclinic 1.0.0 to dev) is unfinished`) };
    await expect(deployments.createDeployment(request)).rejects.toMatchObject(refused);
    await expect(deployments.previewDeployment(request)).rejects.toMatchObject(refused);
    expect((await tasks.listTasks({})).map((t) => t.id)).toEqual([first.id]);
  });

  it('refuses an undeployment planned against a deployed state an EXECUTED task is about to change', async () => {
    const { deployments, tasks, catalog } = master.services;
    const first = await deployments.createDeployment(request);
    await master.stores.tasks.compareAndSet(first.id, 'PENDING', { state: 'EXECUTED' });
    await tasks.operate(first.id, 'archive');
    await catalog.importPackage(petclinicManifest('2.0.0'));
    const update = await deployments.createDeployment({ ...request, version: '2.0.0' });
    await master.stores.tasks.compareAndSet(update.id, 'PENDING', { state: 'EXECUTED' });
    await expect(deployments.createUndeployment({ application: 'petclinic', environment: 'dev' })).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: expect.stringContaining(`task ${update.id} (EXECUTED: Update petclinic 2.0.0 to dev)`),
    });
    await tasks.operate(update.id, 'archive');
    const undeploy = await deployments.createUndeployment({ application: 'petclinic', environment: 'dev' });
    expect(undeploy.description).toBe('Undeploy petclinic 2.0.0 from dev');
  });

  it('lets a deployment follow a cancelled one, and other applications or environments run alongside', async () => {
    const { deployments, tasks, catalog } = master.services;
    const first = await deployments.createDeployment(request);
    await tasks.operate(first.id, 'cancel');
    const second = await deployments.createDeployment(request);
    await catalog.putEnvironment({ name: 'test', hosts: ['local'], dictionary: { APP_HOME: '/opt/t' } });
    const elsewhere = await deployments.createDeployment({ ...request, environment: 'test' });
    expect([second.state, elsewhere.state]).toEqual(['PENDING', 'PENDING']);
  });

  it('of concurrent deployments of one application and environment, creates exactly one', async () => {
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => master.services.deployments.createDeployment(request)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results.filter((x): x is PromiseRejectedResult => x.status === 'rejected')) {
      expect(r.reason).toMatchObject({ code: ErrorCode.CONFLICT });
    }
  });
});

describe('ControlTaskService', () => {
  it('creates a PENDING control task on a host, and refuses an unknown host', async () => {
    const task = await master.services.controlTasks.createControlTask({ target: 'local', control: 'checkConnection' });
    expect(task).toMatchObject({ type: 'CONTROL', state: 'PENDING', description: 'checkConnection on local' });
    expect(task.steps).toHaveLength(1);
    expect(await codeOf(master.services.controlTasks.createControlTask({ target: 'nope', control: 'checkConnection' }))).toBe(
      ErrorCode.HOST_NOT_FOUND,
    );
  });
});

describe('creating a task started (start: true)', () => {
  /** What a start sets, of a stored task (its plan's step states). */
  async function startedFields(id: string): Promise<Partial<TaskRecord> & { steps: string[] }> {
    const { state, attempt, queuedAt, failure, completedAt, plan, workerId } = (await master.stores.tasks.get(id))!;
    return { state, attempt, queuedAt, failure, completedAt, workerId, steps: flattenSteps(plan).map((s) => s.state) };
  }

  it('stores the task as a start would leave it, and publishes its message', async () => {
    master.clock.advance(1_000);
    const started = await master.services.deployments.createDeployment(request, { start: true });
    expect(started).toMatchObject({ state: 'QUEUED', attempt: 1, queuedAt: master.clock.current.toISOString() });
    // The same deployment elsewhere, created PENDING and then started at the same instant.
    await master.services.catalog.putEnvironment({ name: 'test', hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } });
    const pending = await master.services.deployments.createDeployment({ ...request, environment: 'test' });
    await master.services.tasks.operate(pending.id, 'start');
    expect(await startedFields(started.id)).toEqual(await startedFields(pending.id));
    const control = await master.services.controlTasks.createControlTask({ target: 'local', control: 'checkConnection' }, { start: true });
    expect(control).toMatchObject({ state: 'QUEUED', attempt: 1 });
    expect(master.queue.published.map((m) => m.taskId)).toEqual([started.id, pending.id, control.id]);
  });

  it('keeps the task QUEUED when its message cannot be published: the reconciler publishes it', async () => {
    await master.queue.close();
    const created = await master.services.controlTasks.createControlTask({ target: 'local', control: 'checkConnection' }, { start: true });
    expect(await master.stores.tasks.get(created.id)).toMatchObject({ state: 'QUEUED', attempt: 1 });
    const queue = new RecordingQueue();
    const announcer = new TaskAnnouncer(queue, 'master-test', 'hash', master.logger);
    const reconciler = new Reconciler({ tasks: master.stores.tasks, announcer, logger: master.logger, intervalMs: 1_000, republishAfterMs: 60_000, now: master.clock.now });
    await reconciler.tick(new Date(master.clock.current.getTime() + 1));
    expect(queue.published.map((m) => m.taskId)).toEqual([created.id]);
    await queue.close();
  });
});

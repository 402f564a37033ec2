import { InMemoryMaster, petclinicManifest, startInMemoryMaster } from '../testing';
import { Reconciler } from './reconciler';
import { TaskAnnouncer } from './task-announcer';

let master: InMemoryMaster;
afterEach(() => master?.close());

const REPUBLISH_AFTER_MS = 60_000;

async function queuedTask(): Promise<string> {
  master = await startInMemoryMaster({ mode: 'cluster' });
  await master.seedCatalog();
  await master.services.catalog.importPackage(petclinicManifest());
  const task = await master.services.deployments.createDeployment({ application: 'petclinic', version: '1.0.0', environment: 'dev' });
  await master.services.tasks.operate(task.id, 'start');
  return task.id;
}

function reconciler(isCurrent: () => boolean): Reconciler {
  return new Reconciler({
    tasks: master.stores.tasks,
    announcer: new TaskAnnouncer(master.queue, 'master-test', 'hash', master.logger),
    logger: master.logger,
    intervalMs: 1_000,
    republishAfterMs: REPUBLISH_AFTER_MS,
    isCurrent,
    now: master.clock.now,
  });
}

describe('Reconciler', () => {
  it('republishes a task left QUEUED past the cut-off, once per cut-off, with its own configuration hash', async () => {
    const id = await queuedTask();
    const r = reconciler(() => true);
    await r.tick();
    expect(master.queue.published.filter((m) => m.taskId === id)).toHaveLength(1);
    master.clock.advance(REPUBLISH_AFTER_MS + 1);
    await r.tick();
    await r.tick();
    const published = master.queue.published.filter((m) => m.taskId === id);
    expect(published).toHaveLength(2);
    expect(published[1]).toMatchObject({ configHash: 'hash', publishedBy: 'master-test' });
  });

  it('leaves republishing to a master whose configuration is current while no live worker shares its own', async () => {
    const id = await queuedTask();
    let current = false;
    const r = reconciler(() => current);
    master.clock.advance(REPUBLISH_AFTER_MS + 1);
    await r.tick();
    expect(master.queue.published.filter((m) => m.taskId === id)).toHaveLength(1);
    current = true;
    await r.tick();
    expect(master.queue.published.filter((m) => m.taskId === id)).toHaveLength(2);
  });

  it('publishes every queued task at once when it becomes current, what it held back included', async () => {
    const id = await queuedTask();
    let current = false;
    const held = new TaskAnnouncer(master.queue, 'master-test', 'hash', master.logger, () => current);
    expect(await held.announce((await master.stores.tasks.get(id))!)).toBe(false);
    const r = reconciler(() => current);
    await r.tick();
    expect(master.queue.published.filter((m) => m.taskId === id)).toHaveLength(1);
    current = true;
    // No reconcile period has passed: published because the master just became current.
    await r.tick();
    expect(master.queue.published.filter((m) => m.taskId === id)).toHaveLength(2);
    await r.tick();
    expect(master.queue.published.filter((m) => m.taskId === id)).toHaveLength(2);
  });
});

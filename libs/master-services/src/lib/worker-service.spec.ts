import { ErrorCode } from '@shipdeck/errors';
import { GRACE_PERIOD_MS, InMemoryMaster, fakeSession, petclinicManifest, startInMemoryMaster } from '../testing';

let master: InMemoryMaster;

afterEach(() => master.close());

async function start(mode: 'embedded' | 'cluster'): Promise<void> {
  master = await startInMemoryMaster({ mode });
  await master.seedCatalog();
  await master.services.catalog.importPackage(petclinicManifest());
}

/** Creates a task of each type, starts both and lets `workerId` claim them. */
async function claimTasks(workerId: string): Promise<void> {
  const { deployments, controlTasks, tasks } = master.services;
  const created = [
    await deployments.createDeployment({ application: 'petclinic', version: '1.0.0', environment: 'dev' }),
    await controlTasks.createControlTask({ target: 'local', control: 'checkConnection' }),
  ];
  for (const task of created) {
    await tasks.operate(task.id, 'start');
    await master.stores.tasks.claim(task.id, workerId, new Date(master.clock.current.getTime() + 60_000));
  }
}

describe('WorkerService, embedded', () => {
  beforeEach(() => start('embedded'));

  it('lists the in-process worker CONNECTED with its tasks', async () => {
    await claimTasks(master.worker.workerId);
    expect(await master.services.workers.listWorkers()).toEqual([
      expect.objectContaining({
        id: master.worker.workerId,
        name: 'in-process',
        state: 'CONNECTED',
        deploymentTasks: 1,
        controlTasks: 1,
        capacity: 2,
      }),
    ]);
  });

  it('refuses to drain or forget the in-process worker, and does not know others', async () => {
    const { workers } = master.services;
    await expect(workers.drainWorker(master.worker.workerId)).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    await expect(workers.forgetWorker(master.worker.workerId)).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    await expect(workers.drainWorker('other')).rejects.toMatchObject({ code: ErrorCode.WORKER_NOT_FOUND });
    expect(await workers.restoreGhostTasks()).toEqual({
      tasks: [],
      workers: [{ id: master.worker.workerId, ok: true, message: 'no ghost tasks', tasks: [] }],
    });
  });
});

describe('WorkerService, cluster', () => {
  beforeEach(() => start('cluster'));

  const session = (id: string, configHash = 'hash') => fakeSession(id, master.clock, configHash);

  it('lists connected workers with their task counts, an incompatible one as such', async () => {
    await master.cluster!.connected(session('w1'));
    await master.cluster!.connected(session('w2', 'other-hash'));
    await claimTasks('w1');
    const listed = await master.services.workers.listWorkers();
    expect(listed.map((w) => [w.id, w.name, w.state, w.deploymentTasks, w.controlTasks])).toEqual([
      ['w1', 'name-w1', 'CONNECTED', 1, 1],
      ['w2', 'name-w2', 'INCOMPATIBLE', 0, 0],
    ]);
    expect(listed[0].lastSeen).toBe(master.clock.current.toISOString());
    expect((await master.stores.workers.list()).map((w) => w.id).sort()).toEqual(['w1', 'w2']);
  });

  it('drains a connected worker, keeps a gone one DISCONNECTED until forgotten', async () => {
    const w1 = session('w1');
    await master.cluster!.connected(w1);
    expect(await master.services.workers.drainWorker('w1')).toEqual({ message: 'w1 does drain' });
    expect(w1.sent).toEqual(['drain']);
    await expect(master.services.workers.forgetWorker('w1')).rejects.toMatchObject({ code: ErrorCode.CONFLICT });

    master.cluster!.disconnected(w1, 'socket closed');
    master.clock.advance(GRACE_PERIOD_MS + 1);
    expect((await master.services.workers.listWorkers()).map((w) => [w.id, w.state])).toEqual([['w1', 'DISCONNECTED']]);
    await expect(master.services.workers.drainWorker('w1')).rejects.toMatchObject({ code: ErrorCode.CONFLICT });
    await master.services.workers.forgetWorker('w1');
    expect(await master.services.workers.listWorkers()).toEqual([]);
    await expect(master.services.workers.forgetWorker('w1')).rejects.toMatchObject({ code: ErrorCode.WORKER_NOT_FOUND });
  });
});

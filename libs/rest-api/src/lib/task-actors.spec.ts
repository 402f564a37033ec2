import { AuthService, StoreAuditRecorder } from '@shipdeck/auth';
import { FAST_SCRYPT, InMemoryAuthStore } from '@shipdeck/auth/testing';
import { memoryLogger } from '../test-support/memory-logger';
import { STARTED_ON_CREATE } from './routing';
import { taskActors } from './task-actors';

describe('taskActors', () => {
  const store = new InMemoryAuthStore();
  const auth = new AuthService({ store, logger: memoryLogger().logger, audit: new StoreAuditRecorder(store), scrypt: FAST_SCRYPT });
  let minute = 0;
  const record = (taskId: string, username: string, action: string, outcome: 'succeeded' | 'failed' = 'succeeded', detail: string | null = null) =>
    store.appendAudit({
      at: new Date(Date.UTC(2030, 0, 1, 0, minute++)).toISOString(),
      userId: null,
      username,
      tokenId: null,
      action,
      objectIds: {},
      outcome,
      status: outcome === 'succeeded' ? 200 : 409,
      sourceIp: '127.0.0.1',
      detail,
      taskId,
    });

  it('names the latest successful actor of each kind, past more entries than one page holds', async () => {
    await record('t1', 'ann', 'POST /api/v1/control-tasks');
    await record('t1', 'bob', 'POST /api/v1/tasks/:id/start');
    for (let i = 0; i < 250; i++) await record('t1', 'carl', 'POST /api/v1/tasks/:id/steps/:path/skip');
    await record('t1', 'dora', 'POST /api/v1/tasks/:id/stop');
    await record('t1', 'eve', 'POST /api/v1/tasks/:id/start', 'failed');
    await record('t2', 'finn', 'POST /api/v1/tasks/:id/cancel');
    const actors = await taskActors(auth, 't1');
    expect(Object.fromEntries(Object.entries(actors).map(([kind, a]) => [kind, a?.user ?? null]))).toEqual({
      createdBy: 'ann',
      startedBy: 'bob',
      stoppedBy: 'dora',
      cancelledBy: null,
      archivedBy: null,
    });
  });

  it('counts a creation with start: true as a start, unless a later start came', async () => {
    await record('t3', 'ann', 'POST /api/v1/deployments', 'succeeded', STARTED_ON_CREATE);
    expect((await taskActors(auth, 't3')).startedBy?.user).toBe('ann');
    await record('t3', 'bob', 'POST /api/v1/tasks/:id/start');
    expect((await taskActors(auth, 't3')).startedBy?.user).toBe('bob');
    await record('t4', 'ann', 'POST /api/v1/deployments');
    expect(await taskActors(auth, 't4')).toMatchObject({ createdBy: { user: 'ann' }, startedBy: null });
  });
});

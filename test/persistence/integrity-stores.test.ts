/**
 * The store operations the model's integrity rests on (issue 14), on real PostgreSQL (several
 * masters, one database) and SQLite: the serialized insert of deployment tasks, insert-only
 * package imports, and deleting environments.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stores, openStores } from '@shipdeck/persistence';
import { TaskRecord } from '@shipdeck/tasks';
import { databaseUrlWithSchema, dropSchema } from '../support/services';
import { testLogger as logger } from './stores-contract';

function deploymentTask(application: string, environment: string): TaskRecord & { deployment: NonNullable<TaskRecord['deployment']> } {
  return {
    id: randomUUID(),
    type: 'DEPLOYMENT',
    description: `Deploy ${application} to ${environment}`,
    state: 'PENDING',
    plan: { phases: [] },
    workerId: null,
    leaseUntil: null,
    attempt: 0,
    deployment: { application, version: '1', environment, kind: 'INITIAL', deployeds: [] },
    control: null,
    scheduledAt: null,
    createdAt: new Date().toISOString(),
    queuedAt: null,
    claimedAt: null,
    startedAt: null,
    completedAt: null,
    failure: null,
  };
}

function describeIntegrity(name: string, open: () => Promise<Stores[]>, close: () => Promise<void>) {
  describe(name, () => {
    let stores: Stores[];
    beforeAll(async () => {
      stores = await open();
    });
    afterAll(async () => {
      await Promise.all(stores.map((s) => s.close()));
      await close();
    });

    it('of concurrent inserts of deployment tasks of one application and environment, from several connections, exactly one wins', async () => {
      const attempts = Array.from({ length: 8 }, (_, i) => ({ store: stores[i % stores.length], task: deploymentTask('app', 'env') }));
      const results = await Promise.all(attempts.map(({ store, task }) => store.tasks.insertExclusive(task)));
      const inserted = attempts.filter((_, i) => results[i] === null).map((a) => a.task.id);
      expect(inserted).toHaveLength(1);
      for (const blocking of results.filter((r): r is TaskRecord => r !== null)) expect(blocking.id).toBe(inserted[0]);
      const current = await stores[0].tasks.list({ application: 'app', environment: 'env' });
      expect(current.map((t) => t.id)).toEqual(inserted);
      // Another environment or application is not blocked; a finished task blocks nothing.
      expect(await stores[0].tasks.insertExclusive(deploymentTask('app', 'other'))).toBeNull();
      expect(await stores[0].tasks.insertExclusive(deploymentTask('other', 'env'))).toBeNull();
      expect(await stores[0].tasks.compareAndSet(inserted[0], 'PENDING', { state: 'CANCELLED' })).not.toBeNull();
      expect(await stores[0].tasks.insertExclusive(deploymentTask('app', 'env'))).toBeNull();
    });

    it('imports a package version once: a second add changes nothing', async () => {
      const pkg = { application: 'immutable', version: '1.0.0', deployables: [{ name: 'a', type: 'cmd.Command', tags: [], properties: { create: 'x' } }] };
      const results = await Promise.all(stores.map((s, i) => s.packages.add({ ...pkg, deployables: [{ ...pkg.deployables[0], name: `a${i}` }] })));
      expect(results.filter((r) => r)).toHaveLength(1);
      const stored = await stores[0].packages.get('immutable', '1.0.0');
      expect(stored?.deployables.map((d) => d.name)).toEqual([`a${results.indexOf(true)}`]);
      expect(await stores[0].packages.add(pkg)).toBe(false);
    });

    it('deletes an environment, answering whether there was one', async () => {
      await stores[0].environments.put({ name: 'gone', hosts: [], dictionary: {} });
      expect(await stores[0].environments.delete('gone')).toBe(true);
      expect(await stores[0].environments.get('gone')).toBeNull();
      expect(await stores[0].environments.delete('gone')).toBe(false);
    });
  });
}

const schema = `test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
const pgUrl = databaseUrlWithSchema(schema);

describeIntegrity(
  'on PostgreSQL, two stores as two masters would open them',
  async () => {
    const first = await openStores({ url: pgUrl, logger, migrate: true });
    return [first, await openStores({ url: pgUrl, logger, migrate: true })];
  },
  () => dropSchema(schema),
);

const dir = mkdtempSync(join(tmpdir(), 'shipdeck-integrity-sqlite-'));
describeIntegrity(
  'on SQLite',
  async () => [await openStores({ url: `file:${join(dir, 'shipdeck.db')}`, logger, migrate: true })],
  async () => rmSync(dir, { recursive: true, force: true }),
);

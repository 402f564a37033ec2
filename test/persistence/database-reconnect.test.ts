/**
 * Database reconnects as the metrics count them (issue 15), on real PostgreSQL behind a TCP proxy
 * that the test cuts: statements fail as unavailable while it is down, and the first one that
 * succeeds afterwards counts one reconnect (not one per failed statement).
 */
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { NotReadyError } from '@shipdeck/errors';
import { openStores } from '@shipdeck/persistence';
import type { Stores } from '@shipdeck/persistence';
import { pollUntil } from '../support/poll';
import { TcpProxy, startTcpProxy } from '../support/tcp-proxy';
import { makeTask, testLogger } from './stores-contract';

const BASE_URL = process.env.SHIPDECK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const schema = `test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;

/** Waits until the stores' database answers again after a cut. */
function answersAgain(stores: Stores): Promise<void> {
  return pollUntil(
    () =>
      stores.ping().then(
        () => true,
        () => false,
      ),
    { timeoutMs: 15_000, intervalMs: 100, describe: () => 'the database did not answer again after the cut' },
  );
}

describe('database reconnects on PostgreSQL', () => {
  let proxy: TcpProxy | undefined;
  let stores: Stores | undefined;

  afterAll(async () => {
    await stores?.close().catch(() => undefined);
    await proxy?.close();
    const admin = new Client({ connectionString: BASE_URL, connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  it('counts one reconnect when the database answers again after an outage', async () => {
    const target = new URL(BASE_URL);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 5432) });
    const url = new URL(BASE_URL);
    url.hostname = proxy.host;
    url.port = String(proxy.port);
    url.searchParams.set('schema', schema);
    let reconnects = 0;
    stores = await openStores({ url: url.toString(), logger: testLogger, metrics: { databaseReconnected: () => reconnects++ } });
    await stores.ping();

    const outage = proxy.cut(1_500);
    // Several statements fail during the outage: still one reconnect afterwards.
    await expect(stores.ping()).rejects.toBeInstanceOf(NotReadyError);
    await expect(stores.tasks.countByStateAndType()).rejects.toBeInstanceOf(NotReadyError);
    expect(reconnects).toBe(0);
    await outage;
    await answersAgain(stores);
    await stores.ping();
    expect(reconnects).toBe(1);
  });

  it('a connection cut while a hand-written statement waits on it fails that statement and nothing else (no crash)', async () => {
    const live = stores as Stores;
    const task = makeTask({ state: 'QUEUED' });
    await live.tasks.insert(task);
    // Another session holds the task's row: the claim (a hand-written, prepared UPDATE) waits on
    // its connection, checked out of the pool, until the proxy cuts it.
    const holder = new Client({ connectionString: BASE_URL, connectionTimeoutMillis: 5000 });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM "${schema}".tasks WHERE id = $1 FOR UPDATE`, [task.id]);
      const claiming = live.tasks.claim(task.id, 'worker-1', new Date(Date.now() + 60_000));
      const settled = claiming.then(
        () => 'claimed',
        (error: unknown) => error,
      );
      await pollUntil(
        async () => (await holder.query(`SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted`)).rows[0].n > 0,
        { timeoutMs: 10_000, intervalMs: 50, describe: () => 'the claim never waited on the row lock' },
      );
      await (proxy as TcpProxy).cut(500);
      // The statement fails as unavailable; an 'error' event on the checked-out client nobody
      // heard would have ended this process instead.
      expect(await settled).toBeInstanceOf(NotReadyError);
    } finally {
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end().catch(() => undefined);
    }
    // The pool gave up the broken client: the next statements work.
    await answersAgain(live);
    // (The server may still have run the cut claim once the lock was released: a statement whose
    // client went away is not undone; recovery reads the database, not the failed call.)
    expect((await live.tasks.get(task.id))?.id).toBe(task.id);
  });
});

import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { NotReadyError, isRetryable } from '@shipdeck/errors';
import { openStores } from '@shipdeck/persistence';
import { describeStoresContract, makeTask, testLogger } from './stores-contract';

/** The PostgreSQL server of the integration tests; each test file works in its own schema. */
const BASE_URL = process.env.SHIPDECK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function withSchema(schema: string): string {
  const url = new URL(BASE_URL);
  url.searchParams.set('schema', schema);
  return url.toString();
}

const newSchema = () => `test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;

describe('Stores on PostgreSQL', () => {
  const schema = newSchema();
  const schemas = [schema];
  let admin: Client | undefined;

  beforeAll(async () => {
    const client = new Client({ connectionString: BASE_URL, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
    } catch (error) {
      throw new Error(
        `PostgreSQL is not reachable at ${BASE_URL} (${(error as Error).message}). Start it ` +
          '(here: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set ' +
          'SHIPDECK_TEST_DATABASE_URL to a PostgreSQL database these tests may create schemas in.',
      );
    }
    admin = client;
  });

  afterAll(async () => {
    if (!admin) return;
    for (const name of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
    await admin.end();
  });

  describeStoresContract({
    url: () => withSchema(schema),
    freshUrl: () => {
      const fresh = newSchema();
      schemas.push(fresh);
      return withSchema(fresh);
    },
  });

  it('keeps every table in the schema named by the URL', async () => {
    const { rows } = await admin!.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual([
      'audit_entries',
      'auth_api_tokens',
      'auth_sessions',
      'auth_users',
      'deployed_applications',
      'environments',
      'hosts',
      'packages',
      'shipdeck_migrations',
      'step_logs',
      'tasks',
      'worker_certificates',
      'workers',
    ]);
  });

  it('keeps reading through its prepared statements after a newer migration adds a column', async () => {
    const own = newSchema();
    schemas.push(own);
    const stores = await openStores({ url: withSchema(own), logger: testLogger });
    try {
      const task = makeTask();
      await stores.tasks.insert(task);
      expect((await stores.tasks.get(task.id))?.id).toBe(task.id);
      // A newer master's migration changes the columns of `SELECT *` under the prepared plan.
      await admin!.query(`ALTER TABLE "${own}".tasks ADD COLUMN added_later text`);
      expect((await stores.tasks.get(task.id))?.id).toBe(task.id);
    } finally {
      await stores.close();
    }
  });

  it('answers a retryable NotReadyError when the server cannot be reached', async () => {
    const url = new URL(BASE_URL);
    url.port = '1';
    const error = await openStores({ url: url.toString(), logger: testLogger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotReadyError);
    expect(isRetryable(error)).toBe(true);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('never shows the password of the URL in its errors', async () => {
    const url = new URL(BASE_URL);
    url.port = '1';
    url.username = 'someone';
    url.password = 's3cret';
    const error = (await openStores({ url: url.toString(), logger: testLogger }).catch((e: unknown) => e)) as Error;
    expect(error.message).not.toContain('s3cret');
  });
});

/**
 * The database auth store on real PostgreSQL and SQLite: the AuthStore contract of @shipdeck/auth,
 * and AuthService over two separate connections to one database (two masters), where a token
 * revoked through one is refused through the other at once and a session opened through one is
 * accepted by the other.
 *
 * Until the auth entities and migration are registered in `connect()`, this file builds its own
 * data source with just them (the same options `connect()` uses).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AuthError, AuthService, AuthStore, StoreAuditRecorder } from '@shipdeck/auth';
import { describeAuthStoreContract } from '@shipdeck/auth/testing';
import { ConflictError } from '@shipdeck/errors';
import { createLogger } from '@shipdeck/logging';
import { Database } from '../../libs/persistence/src/lib/database';
import { Dialect, createEntities } from '../../libs/persistence/src/lib/entities';
import { AuditTaskId1764633600000, AuthTables1764547200000, TypeormAuthStore, createAuthEntities } from '../../libs/persistence/src/lib/auth';

const BASE_URL = process.env.SHIPDECK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const logger = createLogger({ json: false, name: 'auth-store-test', level: 'warn' });
const PASSWORD = 'a long enough password';

/** A database opened the way `connect()` opens one, with only the auth entities and migration. */
async function openDatabase(dialect: Dialect, where: { file?: string; schema?: string }): Promise<Database> {
  const common = {
    entities: Object.values(createAuthEntities(dialect)),
    migrations: [AuthTables1764547200000, AuditTaskId1764633600000],
    migrationsTableName: 'shipdeck_migrations',
    synchronize: false,
  };
  const dataSource =
    dialect === 'sqlite'
      ? new DataSource({ ...common, type: 'better-sqlite3', database: where.file!, enableWAL: true, timeout: 5000 })
      : new DataSource({
          ...common,
          type: 'postgres',
          url: BASE_URL,
          schema: where.schema,
          extra: { options: `-c search_path=${where.schema}` },
        });
  await dataSource.initialize();
  await dataSource.runMigrations({ transaction: 'each' });
  return new Database(dataSource, dialect, createEntities(dialect));
}

/** The same suite for both dialects; `open` gives a new connection to the one database under test. */
function describeAuthPersistence(dialect: Dialect, open: () => Promise<Database>): void {
  const databases: Database[] = [];
  const connect = async () => {
    const db = await open();
    databases.push(db);
    return db;
  };
  afterAll(async () => {
    for (const db of databases) await db.close();
  });

  describeAuthStoreContract(`TypeormAuthStore on ${dialect}`, {
    open: async () => {
      // Typed as the auth library's interface: a shape that drifted from it would not compile.
      const store: AuthStore = new TypeormAuthStore(await connect());
      return store;
    },
    close: async () => undefined,
  });

  describe(`AuthService on ${dialect}, two masters on one database`, () => {
    let a: { store: AuthStore; auth: AuthService };
    let b: { store: AuthStore; auth: AuthService };
    const kit = (store: AuthStore) => ({
      store,
      auth: new AuthService({ store, logger, audit: new StoreAuditRecorder(store), scrypt: { ln: 4, r: 8, p: 1 } }),
    });

    beforeAll(async () => {
      a = kit(new TypeormAuthStore(await connect()));
      b = kit(new TypeormAuthStore(await connect()));
    });

    it('a token created on A works on B, and revoked on A is refused on B at once', async () => {
      const user = await a.auth.createUser({ username: `ci-${randomUUID().slice(0, 8)}`, password: PASSWORD, role: 'deployer' });
      const { token, record } = await a.auth.createToken(user.id, 'pipeline', new Date(Date.now() + 3_600_000).toISOString());
      await expect(b.auth.verifyToken(token)).resolves.toMatchObject({ userId: user.id, tokenId: record.id, via: 'token' });
      expect((await a.auth.getToken(record.id)).lastUsedAt).not.toBeNull();
      await a.auth.revokeToken(record.id);
      const refused = await b.auth.verifyToken(token).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(AuthError);
      expect((refused as AuthError).message).toBe('token revoked');
    });

    it('a session opened on A is accepted on B until logout on B', async () => {
      const username = `web-${randomUUID().slice(0, 8)}`;
      await a.auth.createUser({ username, password: PASSWORD, role: 'viewer', environments: null });
      const { sessionId } = await a.auth.login(username, PASSWORD, '192.0.2.1');
      await expect(b.auth.verifySession(sessionId)).resolves.toMatchObject({ username, via: 'session' });
      await b.auth.logout(sessionId);
      await expect(a.auth.verifySession(sessionId)).rejects.toBeInstanceOf(AuthError);
      const audit = await b.store.listAudit({ limit: 5, action: 'login', username });
      expect(audit.map((e) => [e.outcome, e.sourceIp])).toEqual([['succeeded', '192.0.2.1']]);
    });

    it('keeps a deployer\'s environments and a user\'s disabled flag', async () => {
      const dep = await a.auth.createUser({
        username: `dep-${randomUUID().slice(0, 8)}`,
        password: PASSWORD,
        role: 'deployer',
        environments: ['dev', 'test'],
      });
      await expect(b.auth.getUser(dep.id)).resolves.toMatchObject({ environments: ['dev', 'test'], disabled: false });
      await b.auth.updateUser(dep.id, { disabled: true });
      await expect(a.auth.getUser(dep.id)).resolves.toMatchObject({ disabled: true });
    });

    it('of two masters creating the same user at once, one wins and the other gets a ConflictError', async () => {
      const username = `race-${randomUUID().slice(0, 8)}`;
      const results = await Promise.allSettled([
        a.auth.createUser({ username, password: PASSWORD, role: 'viewer' }),
        b.auth.createUser({ username, password: PASSWORD, role: 'viewer' }),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(loser.reason).toBeInstanceOf(ConflictError);
    });
  });
}

describe('auth store on PostgreSQL', () => {
  const schema = `test_${randomUUID().replace(/-/g, '')}`;
  let admin: Client | undefined;

  beforeAll(async () => {
    const client = new Client({ connectionString: BASE_URL, connectionTimeoutMillis: 5000 });
    try {
      await client.connect();
    } catch (error) {
      throw new Error(
        `PostgreSQL is not reachable at ${BASE_URL} (${(error as Error).message}). Start it or set ` +
          'SHIPDECK_TEST_DATABASE_URL to a PostgreSQL database these tests may create schemas in.',
      );
    }
    admin = client;
    await admin.query(`CREATE SCHEMA "${schema}"`);
  });

  afterAll(async () => {
    if (!admin) return;
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
  });

  describeAuthPersistence('postgres', () => openDatabase('postgres', { schema }));

  it('keeps the auth tables in its own schema', async () => {
    const { rows } = await admin!.query<{ table_name: string }>(
      'SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name',
      [schema],
    );
    expect(rows.map((r) => r.table_name)).toEqual(['audit_entries', 'auth_api_tokens', 'auth_sessions', 'auth_users', 'shipdeck_migrations']);
  });
});

describe('auth store on SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shipdeck-auth-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describeAuthPersistence('sqlite', () => openDatabase('sqlite', { file: join(dir, 'shipdeck.db') }));
});

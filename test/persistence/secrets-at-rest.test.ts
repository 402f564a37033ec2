/**
 * Secrets at rest (issue 9) on real PostgreSQL and SQLite: what the catalog stores for a secret
 * dictionary entry and an ssh host's password, key and passphrase is ciphertext, read from the raw
 * row; the stores give it back sealed, the key opens it, and saving the same value again keeps
 * the stored ciphertext (no needless MODIFY steps).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { SECRET_MASK, SecretBox } from '@shipdeck/domain';
import { CatalogService } from '@shipdeck/master-services';
import { Stores, openStores } from '@shipdeck/persistence';
import { createRegistry } from '@shipdeck/plugins';
import { TEST_DATABASE_URL, databaseUrlWithSchema, dropSchema } from '../support/services';
import { testLogger as logger } from './stores-contract';

const PASSWORD = `pw-${randomUUID()}`;
const DB_SECRET = `db-${randomUUID()}`;
const PASSPHRASE = `pp-${randomUUID()}`;

/** The raw `environments.secrets` and `hosts.properties` columns, as the database holds them. */
type RawRows = (environment: string, host: string) => Promise<{ secrets: string; properties: string }>;

function describeSecretsAtRest(name: string, open: () => Promise<Stores>, raw: RawRows, close: () => Promise<void>) {
  describe(name, () => {
    const box = new SecretBox(new Uint8Array(randomBytes(32)));
    let stores: Stores;
    let catalog: CatalogService;
    beforeAll(async () => {
      stores = await open();
      catalog = new CatalogService({ stores, registry: createRegistry(), logger, secrets: box });
    });
    afterAll(async () => {
      await stores.close();
      await close();
    });

    it('stores secret dictionary entries and ssh host secrets as ciphertext only', async () => {
      await catalog.putHost({
        name: 'web1',
        type: 'ssh',
        tags: [],
        properties: { address: '127.0.0.1', username: 'deploy', password: PASSWORD, jumpHost: { address: 'b', username: 'j', privateKey: 'KEY', passphrase: PASSPHRASE } },
      });
      await catalog.putEnvironment({ name: 'prod', hosts: ['web1'], dictionary: { PLAIN: 'visible' }, secrets: { DB_PASSWORD: DB_SECRET } });

      const rows = await raw('prod', 'web1');
      for (const plaintext of [PASSWORD, DB_SECRET, PASSPHRASE]) expect(`${rows.secrets} ${rows.properties}`).not.toContain(plaintext);
      expect(rows.secrets).toMatch(/"DB_PASSWORD":\s*"<<sealed:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+>>"/);
      const properties = JSON.parse(rows.properties) as Record<string, unknown>;
      expect(properties['username']).toBe('deploy');
      expect(properties['password']).toMatch(/^<<sealed:v1:/);
      expect((properties['jumpHost'] as Record<string, string>)['privateKey']).toMatch(/^<<sealed:v1:/);

      const environment = (await stores.environments.get('prod'))!;
      expect(environment.dictionary).toEqual({ PLAIN: 'visible' });
      expect(box.open(environment.secrets!['DB_PASSWORD'])).toBe(DB_SECRET);
      const host = (await stores.hosts.get('web1'))!;
      expect(box.open(host.properties['password'] as string)).toBe(PASSWORD);
      expect(box.open((host.properties['jumpHost'] as Record<string, string>)['passphrase'])).toBe(PASSPHRASE);
    });

    it('keeps the stored ciphertext for the mask and for the same value, and seals a new value anew', async () => {
      const before = (await stores.environments.get('prod'))!.secrets!['DB_PASSWORD'];
      await catalog.putEnvironment({ name: 'prod', hosts: ['web1'], dictionary: {}, secrets: { DB_PASSWORD: SECRET_MASK } });
      expect((await stores.environments.get('prod'))!.secrets!['DB_PASSWORD']).toBe(before);
      await catalog.putEnvironment({ name: 'prod', hosts: ['web1'], dictionary: {}, secrets: { DB_PASSWORD: DB_SECRET } });
      expect((await stores.environments.get('prod'))!.secrets!['DB_PASSWORD']).toBe(before);
      await catalog.putEnvironment({ name: 'prod', hosts: ['web1'], dictionary: {}, secrets: { DB_PASSWORD: 'changed' } });
      const after = (await stores.environments.get('prod'))!.secrets!['DB_PASSWORD'];
      expect(after).not.toBe(before);
      expect(box.open(after)).toBe('changed');
    });

    it('refuses a mask with nothing stored and a key both plain and secret, naming the field', async () => {
      await expect(catalog.putEnvironment({ name: 'prod', hosts: ['web1'], dictionary: {}, secrets: { NEW: SECRET_MASK } })).rejects.toMatchObject({
        details: [{ field: 'secrets.NEW' }],
      });
      await expect(catalog.putEnvironment({ name: 'prod', hosts: ['web1'], dictionary: { K: 'a' }, secrets: { K: 'b' } })).rejects.toMatchObject({
        details: [{ field: 'secrets.K' }],
      });
    });
  });
}

const schema = `test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
describeSecretsAtRest(
  'on PostgreSQL',
  () => openStores({ url: databaseUrlWithSchema(schema), logger, migrate: true }),
  async (environment, host) => {
    const client = new Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    try {
      const s = `"${schema}"`;
      const env = await client.query(`SELECT secrets::text AS secrets FROM ${s}.environments WHERE name = $1`, [environment]);
      const h = await client.query(`SELECT properties::text AS properties FROM ${s}.hosts WHERE name = $1`, [host]);
      return { secrets: env.rows[0].secrets, properties: h.rows[0].properties };
    } finally {
      await client.end();
    }
  },
  () => dropSchema(schema),
);

const dir = mkdtempSync(join(tmpdir(), 'shipdeck-secrets-sqlite-'));
const file = join(dir, 'shipdeck.db');
describeSecretsAtRest(
  'on SQLite',
  () => openStores({ url: `file:${file}`, logger, migrate: true }),
  async (environment, host) => {
    const db = await new DataSource({ type: 'better-sqlite3', database: file, readonly: true }).initialize();
    try {
      const [env] = (await db.query('SELECT secrets FROM environments WHERE name = ?', [environment])) as { secrets: string }[];
      const [h] = (await db.query('SELECT properties FROM hosts WHERE name = ?', [host])) as { properties: string }[];
      return { secrets: env.secrets, properties: h.properties };
    } finally {
      await db.destroy();
    }
  },
  async () => rmSync(dir, { recursive: true, force: true }),
);

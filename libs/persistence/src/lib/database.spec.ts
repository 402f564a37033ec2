import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@shipdeck/errors';
import { createLogger } from '@shipdeck/logging';
import { connect, parseDatabaseUrl } from './database';

describe('the embedded database file', () => {
  it('is created readable by its user only (0600), in a 0700 directory', async () => {
    const root = mkdtempSync(join(tmpdir(), 'shipdeck-db-'));
    try {
      const file = join(root, 'data', 'shipdeck.db');
      const logger = createLogger({ json: true, name: 'test', level: 'error' });
      const db = await connect({ url: `file:${file}`, logger, migrate: true });
      await db.close();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(root, 'data')).mode & 0o777).toBe(0o700);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('parseDatabaseUrl', () => {
  it('reads SQLite files', () => {
    expect(parseDatabaseUrl('file:/var/lib/shipdeck/shipdeck.db')).toEqual({
      dialect: 'sqlite',
      file: '/var/lib/shipdeck/shipdeck.db',
    });
    expect(parseDatabaseUrl('file:///srv/x.db')).toEqual({ dialect: 'sqlite', file: '/srv/x.db' });
    expect(parseDatabaseUrl('file::memory:')).toEqual({ dialect: 'sqlite', file: ':memory:' });
  });

  it('refuses a relative file (the configuration resolves it against the installation)', () => {
    expect(() => parseDatabaseUrl('file:data/shipdeck.db')).toThrow(ConfigError);
  });

  it('reads PostgreSQL URLs and takes the schema out of them', () => {
    expect(parseDatabaseUrl('postgres://u:pw@db:5432/shipdeck?schema=test_1&sslmode=disable')).toEqual({
      dialect: 'postgres',
      url: 'postgres://u:pw@db:5432/shipdeck?sslmode=disable',
      schema: 'test_1',
      display: 'postgres://u:***@db:5432/shipdeck?schema=test_1&sslmode=disable',
    });
    expect(parseDatabaseUrl('postgresql://db/shipdeck')).toMatchObject({ dialect: 'postgres', schema: null });
  });

  it('refuses other schemes and schema names that are not plain identifiers', () => {
    expect(() => parseDatabaseUrl('mysql://db/x')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('not a url')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('postgres://db/x?schema=a;drop')).toThrow(ConfigError);
    expect(() => parseDatabaseUrl('postgres://u:s3cret@db/x?schema=1a')).toThrow(/u:\*\*\*@db/);
  });
});

import { ConfigError } from '@shipdeck/errors';
import { parseDatabaseUrl } from './database';

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

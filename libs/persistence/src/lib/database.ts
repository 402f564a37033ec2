import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource, EntityManager, Logger as TypeOrmLogger } from 'typeorm';
import { ConfigError, NotReadyError } from '@shipdeck/errors';
import type { Logger } from '@shipdeck/logging';
import { DatabaseMetrics, NO_METRICS } from '@shipdeck/metrics';
import { createAuthEntities } from './auth';
import { Dialect, Entities, createEntities } from './entities';
import { isUnavailable, translateError } from './errors';
import { MIGRATIONS, MIGRATIONS_TABLE } from './migrations';

/** Where the data lives, parsed from a database URL. */
export type DatabaseTarget =
  | { dialect: 'sqlite'; file: string }
  | { dialect: 'postgres'; url: string; schema: string | null; display: string };

/**
 * Parses `file:/abs/path.db` (also `file:///abs/path.db`, and `file::memory:` for a private
 * in-memory database) or `postgres://…` / `postgresql://…` with an optional `?schema=NAME`.
 */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  if (url === 'file::memory:') return { dialect: 'sqlite', file: ':memory:' };
  if (url.startsWith('file:')) {
    const file = url.startsWith('file://') ? fileURLToPath(url) : url.slice('file:'.length);
    if (!isAbsolute(file)) throw new ConfigError(`database URL ${url}: the file path must be absolute`);
    return { dialect: 'sqlite', file };
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`database URL is not a URL: ${redact(url)}`);
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError(`database URL ${redact(url)}: expected file:, postgres:// or postgresql://`);
  }
  const schema = parsed.searchParams.get('schema');
  if (schema !== null && !/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(schema)) {
    throw new ConfigError(`database URL ${redact(url)}: schema must be a plain identifier (letters, digits, _)`);
  }
  parsed.searchParams.delete('schema');
  return { dialect: 'postgres', url: parsed.toString(), schema, display: redact(url) };
}

/** The URL without its password, for messages and logs. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

/** PostgreSQL advisory lock key (two int4: "SHIP", 1) held while migrations run. */
const MIGRATION_LOCK = [0x53484950, 1] as const;

/** Only one migration run at a time per SQLite file in this process. */
const sqliteMigrationLocks = new Map<string, Promise<void>>();

/** Options of {@link connect}. */
export interface ConnectOptions {
  url: string;
  logger: Logger;
  migrate: boolean;
  /** Told when the database answers again after being unreachable; none when absent. */
  metrics?: DatabaseMetrics;
}

/** What a {@link Database} reports about the connection itself. */
export interface DatabaseWatch {
  logger: Logger;
  metrics: DatabaseMetrics;
}

/**
 * One open database: the TypeORM data source, its entity schemas, and the way statements are run.
 * SQLite has a single connection shared by every caller (TypeORM hands out one query runner), so
 * there every operation runs alone: a transaction must never see another caller's statements.
 */
export class Database {
  private tail: Promise<unknown> = Promise.resolve();
  private closing: Promise<void> | undefined;
  /** A statement failed because the database could not be reached, and none has succeeded since. */
  private unreachable = false;

  constructor(
    readonly dataSource: DataSource,
    readonly dialect: Dialect,
    readonly entities: Entities,
    private readonly watch?: DatabaseWatch,
  ) {}

  /** Runs `work` with the data source's manager; driver errors are translated. */
  run<T>(what: string, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.serialized(() => work(this.dataSource.manager), what);
  }

  /** Runs `work` in one transaction; it is rolled back when `work` throws. */
  transaction<T>(what: string, work: (manager: EntityManager) => Promise<T>): Promise<T> {
    return this.serialized(() => this.dataSource.transaction(work), what);
  }

  /** Closes the connections; later calls do nothing. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.tail.catch(() => undefined);
      if (this.dataSource.isInitialized) await this.dataSource.destroy();
    })();
    return this.closing;
  }

  /** A statement failed as unavailable: an outage starts (logged once, not per statement). */
  private lost(what: string): void {
    if (this.unreachable) return;
    this.unreachable = true;
    this.watch?.logger.warn('database unreachable', { while: what });
  }

  /** The first success after an outage is a reconnect: the pool has replaced its connections. */
  private reachedAgain(): void {
    if (!this.unreachable) return;
    this.unreachable = false;
    this.watch?.logger.info('database reachable again');
    this.watch?.metrics.databaseReconnected();
  }

  private serialized<T>(work: () => Promise<T>, what: string): Promise<T> {
    if (this.closing) return Promise.reject(new NotReadyError(`database closed (${what})`));
    const guarded = () =>
      work().then(
        (result) => {
          this.reachedAgain();
          return result;
        },
        (error: unknown) => {
          // SQLite has no connection to lose: its busy errors are not outages.
          if (this.dialect === 'postgres' && isUnavailable(error)) this.lost(what);
          return translateError(error, what);
        },
      );
    if (this.dialect === 'postgres') return guarded();
    const result = this.tail.then(guarded, guarded);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/** Opens the database named by `url`, migrating its schema first when `migrate` is set. */
export async function connect(options: ConnectOptions): Promise<Database> {
  const target = parseDatabaseUrl(options.url);
  const entities = createEntities(target.dialect);
  const common = {
    entities: [...Object.values(entities), ...Object.values(createAuthEntities(target.dialect))],
    migrations: MIGRATIONS,
    migrationsTableName: MIGRATIONS_TABLE,
    migrationsRun: false,
    synchronize: false,
    logger: new TypeOrmLoggerAdapter(options.logger),
    maxQueryExecutionTime: 1000,
  };
  let dataSource: DataSource;
  let where: string;
  if (target.dialect === 'sqlite') {
    if (target.file !== ':memory:') createPrivately(target.file);
    where = target.file;
    dataSource = new DataSource({
      ...common,
      type: 'better-sqlite3',
      database: target.file,
      enableWAL: target.file !== ':memory:',
      // Wait this long for another process's lock before SQLITE_BUSY.
      timeout: 5000,
      prepareDatabase: (db: { pragma(source: string): unknown }) => {
        db.pragma('synchronous = NORMAL');
      },
    });
  } else {
    where = target.display;
    dataSource = new DataSource({
      ...common,
      type: 'postgres',
      url: target.url,
      schema: target.schema ?? undefined,
      connectTimeoutMS: 5000,
      applicationName: 'shipdeck',
      // Hand-written SQL (migrations) names tables without a schema: the search path supplies it.
      extra: target.schema ? { options: `-c search_path=${target.schema}` } : {},
      poolErrorHandler: (error: unknown) =>
        options.logger.warn('database connection lost; it is replaced at the next query', { error: String(error) }),
    });
  }
  try {
    await dataSource.initialize();
  } catch (error) {
    translateError(error, `connecting to ${where}`);
  }
  const database = new Database(dataSource, target.dialect, entities, { logger: options.logger, metrics: options.metrics ?? NO_METRICS });
  try {
    if (options.migrate) {
      await migrate(database, target, options.logger);
    } else {
      await requireMigrated(database, where);
    }
  } catch (error) {
    await database.close().catch(() => undefined);
    translateError(error, `migrating ${where}`);
  }
  options.logger.info('database open', { database: where, dialect: target.dialect });
  return database;
}

async function migrate(database: Database, target: DatabaseTarget, logger: Logger): Promise<void> {
  const run = async () => {
    const ran = await database.dataSource.runMigrations({ transaction: 'each' });
    for (const migration of ran) logger.info('database migration applied', { migration: migration.name });
  };
  if (target.dialect === 'sqlite') {
    const previous = sqliteMigrationLocks.get(target.file) ?? Promise.resolve();
    const current = previous.then(run, run);
    sqliteMigrationLocks.set(
      target.file,
      current.catch(() => undefined),
    );
    await current;
    return;
  }
  // Several masters may start together: one migrates, the others wait and then find nothing to do.
  const runner = database.dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('SELECT pg_advisory_lock($1, $2)', [...MIGRATION_LOCK]);
    try {
      if (target.schema) await runner.query(`CREATE SCHEMA IF NOT EXISTS "${target.schema}"`);
      await run();
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1, $2)', [...MIGRATION_LOCK]);
    }
  } finally {
    await runner.release();
  }
}

/** Without `migrate`, refuse (retryably) a schema that a master has not migrated yet. */
async function requireMigrated(database: Database, where: string): Promise<void> {
  let applied: string[];
  try {
    const rows: { name: string }[] = await database.dataSource.query(`SELECT name FROM ${MIGRATIONS_TABLE}`);
    applied = rows.map((row) => row.name);
  } catch {
    applied = [];
  }
  const missing = MIGRATIONS.map((migration) => migration.name).filter((name) => !applied.includes(name));
  if (missing.length > 0) {
    throw new NotReadyError(
      `database ${where} is not migrated yet (missing ${missing.join(', ')}); a master migrates it when it starts`,
    );
  }
}

/**
 * TypeORM's log calls, on the Shipdeck logger: failed statements at `debug` (the error reaches
 * the caller, who decides), slow ones at `warn`. Successful statements are not logged: one line
 * per query would cost more than the query on the hot path.
 */
class TypeOrmLoggerAdapter implements TypeOrmLogger {
  constructor(private readonly logger: Logger) {}

  logQuery(): void {}

  logQueryError(error: string | Error, query: string): void {
    this.logger.debug('database query failed', { error: String(error), query });
  }

  logQuerySlow(time: number, query: string): void {
    this.logger.warn('slow database query', { ms: time, query });
  }

  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.info(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.debug(String(message));
  }
}

/**
 * Creates the embedded database file (and its directory) readable by this user only, and narrows
 * an existing one: it holds password hashes, tokens' hashes and every deployment. SQLite gives its
 * -wal and -shm files the mode of the database file.
 */
function createPrivately(file: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

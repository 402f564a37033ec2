import type { Pool, PoolClient } from 'pg';
import { EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import { DateUtils } from 'typeorm/util/DateUtils';
import type { Dialect } from './entities';

/**
 * Hand-written statements for the few statements every task runs, several of them more than once
 * (task read, claim, state change, plan save, step log append): TypeORM's query building and
 * entity hydration cost more CPU than the database's work for them. Statements are written once with `$1, $2…` placeholders; for SQLite
 * (whose driver binds only anonymous `?` positionally) each becomes `?`, with the parameters in the
 * order they appear. Rows come back raw and go through the same row mapping as `RETURNING *`.
 *
 * On PostgreSQL each statement is a named prepared statement (see {@link statementName}): a
 * connection parses and plans it once, and every later run sends only Bind and Execute. TypeORM's
 * query runner takes a statement's text only, so these go to node-postgres directly: to the
 * transaction's own connection inside a transaction, else to a connection of TypeORM's pool.
 */
export class RawSql {
  private readonly sqlite = new Map<string, { text: string; order: number[] }>();

  constructor(readonly dialect: Dialect) {}

  /** Runs `sql` on `m`'s connection (its transaction, if any); answers the rows it returned. */
  async rows<T>(m: EntityManager, sql: string, parameters: unknown[]): Promise<T[]> {
    if (this.dialect === 'postgres') return postgresRows<T>(m, sql, parameters);
    const runner = m.queryRunner ?? m.connection.createQueryRunner();
    try {
      const result = await this.sqliteQuery(sql, (text, order) => runner.query(text, order.map((i) => parameters[i]), true));
      return (result.records ?? []) as T[];
    } finally {
      if (!m.queryRunner) await runner.release();
    }
  }

  /** A time as the column type stores it: TypeORM keeps SQLite `datetime` as UTC text. */
  time(value: Date | null): Date | string | null {
    if (value === null || this.dialect === 'postgres') return value;
    return DateUtils.mixedDateToUtcDatetimeString(value) as string;
  }

  /** A JSON column's value (`jsonb` on PostgreSQL, JSON text on SQLite); null stays SQL NULL. */
  json(value: unknown): string | null {
    return value === null || value === undefined ? null : JSON.stringify(value);
  }

  /** `$1, $2, …` for `count` parameters starting after `before`. */
  static placeholders(count: number, before = 0): string {
    return Array.from({ length: count }, (_, i) => `$${before + i + 1}`).join(', ');
  }

  private sqliteQuery<T>(sql: string, run: (text: string, order: number[]) => T): T {
    let statement = this.sqlite.get(sql);
    if (statement === undefined) {
      const order: number[] = [];
      const text = sql.replace(/\$(\d+)/g, (_, n: string) => {
        order.push(Number(n) - 1);
        return '?';
      });
      statement = { text, order };
      // Statements are a handful of fixed texts (and IN lists of a few lengths): the cache stays small.
      if (this.sqlite.size < MAX_NAMED) this.sqlite.set(sql, statement);
    }
    return run(statement.text, statement.order);
  }
}

/**
 * The hand-written statements are a handful of fixed texts (and IN lists of a few lengths); past
 * this many distinct texts a statement runs unnamed rather than growing every connection's cache.
 */
const MAX_NAMED = 1000;

/** Name of each statement text, per process: node-postgres refuses one name for two texts on a connection. */
const names = new Map<string, string>();
let nameCount = 0;

function statementName(sql: string): string | undefined {
  let name = names.get(sql);
  if (name === undefined && names.size < MAX_NAMED) {
    name = `shipdeck_${++nameCount}`;
    names.set(sql, name);
  }
  return name;
}

/**
 * PostgreSQL refuses to run a prepared statement whose result columns changed since it was
 * prepared (a newer master's migration altered the table under `SELECT *` or `RETURNING *`).
 */
function isStalePlan(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === '0A000' && typeof message === 'string' && message.includes('cached plan must not change result type');
}

async function postgresRows<T>(m: EntityManager, sql: string, values: unknown[]): Promise<T[]> {
  const started = Date.now();
  try {
    if (m.queryRunner) {
      // Inside a transaction: its statements must run on its own connection.
      const client = (await m.queryRunner.connect()) as PoolClient;
      return (await client.query({ name: statementName(sql), text: sql, values })).rows as T[];
    }
    const pool = (m.connection.driver as PostgresDriver).master as Pool;
    const client = await pool.connect();
    // A connection that breaks while its client is checked out emits 'error' on the client: the
    // pool listens only to idle clients, and an 'error' event nobody hears would end the process.
    // The statement fails with the same error; the listener only keeps the process alive.
    let broken: Error | undefined;
    const onError = (error: Error) => (broken ??= error);
    client.on('error', onError);
    try {
      return await runNamed<T>(client, sql, values);
    } catch (error) {
      // An error without a SQLSTATE (five characters) did not come from the server: the connection is not usable.
      if (!/^[0-9A-Z]{5}$/.test(String((error as { code?: unknown }).code))) broken ??= error as Error;
      throw error;
    } finally {
      client.off('error', onError);
      // Released with an error, a client is destroyed instead of going back to the pool.
      client.release(broken);
    }
  } catch (error) {
    if (isStalePlan(error)) names.delete(sql);
    m.connection.logger.logQueryError(error as Error, sql, values);
    throw error;
  } finally {
    const ms = Date.now() - started;
    const slow = m.connection.options.maxQueryExecutionTime;
    if (slow && ms > slow) m.connection.logger.logQuerySlow(ms, sql, values);
  }
}

/** Runs the named statement; one whose plan went stale is prepared again under a new name. */
async function runNamed<T>(client: PoolClient, sql: string, values: unknown[]): Promise<T[]> {
  try {
    return (await client.query({ name: statementName(sql), text: sql, values })).rows as T[];
  } catch (error) {
    if (!isStalePlan(error)) throw error;
    names.delete(sql);
    return (await client.query({ name: statementName(sql), text: sql, values })).rows as T[];
  }
}

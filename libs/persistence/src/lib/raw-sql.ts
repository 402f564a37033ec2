import { EntityManager } from 'typeorm';
import { DateUtils } from 'typeorm/util/DateUtils';
import type { Dialect } from './entities';

/**
 * Hand-written statements for the few statements every task runs, several of them more than once
 * (task read, claim, state change, plan save, step log append): TypeORM's query building and
 * entity hydration cost more CPU than the database's work for them. Statements are written once with `$1, $2…` placeholders; for SQLite
 * (whose driver binds only anonymous `?` positionally) each becomes `?`, with the parameters in the
 * order they appear. Rows come back raw and go through the same row mapping as `RETURNING *`.
 */
export class RawSql {
  private readonly sqlite = new Map<string, { text: string; order: number[] }>();

  constructor(readonly dialect: Dialect) {}

  /** Runs `sql` on `m`'s connection (its transaction, if any); answers the rows it returned. */
  async rows<T>(m: EntityManager, sql: string, parameters: unknown[]): Promise<T[]> {
    const runner = m.queryRunner ?? m.connection.createQueryRunner();
    try {
      const result =
        this.dialect === 'postgres'
          ? await runner.query(sql, parameters, true)
          : await this.sqliteQuery(sql, (text, order) => runner.query(text, order.map((i) => parameters[i]), true));
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
      if (this.sqlite.size < 1000) this.sqlite.set(sql, statement);
    }
    return run(statement.text, statement.order);
  }
}

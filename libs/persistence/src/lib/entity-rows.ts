import { EntitySchema, FindManyOptions, FindOptionsWhere, ObjectLiteral } from 'typeorm';
import { ConflictError } from '@shipdeck/errors';
import { Database } from './database';
import { ColumnValues, values } from './row-mapping';

/**
 * The plain keyed operations of one entity (upsert, insert, find one, list, delete), each run through the
 * database with a description for errors: what the catalog and worker stores are made of.
 */
export class EntityRows<Row extends ObjectLiteral> {
  constructor(
    private readonly db: Database,
    private readonly entity: EntitySchema<Row>,
  ) {}

  /** Inserts the row, or replaces the one with the same `key` columns. */
  upsert(what: string, row: ColumnValues<Row>, key: (keyof Row & string)[]): Promise<void> {
    return this.db.run(what, async (m) => {
      await m.upsert(this.entity, values(row), key);
    });
  }

  /** Inserts the row only if none has the same key; answers false, and changes nothing, when one has. */
  async insertNew(what: string, row: ColumnValues<Row>): Promise<boolean> {
    try {
      await this.db.run(what, async (m) => {
        await m.insert(this.entity, values(row));
      });
      return true;
    } catch (error) {
      // The database's uniqueness check is the test: a read first would race another master's insert.
      if (error instanceof ConflictError) return false;
      throw error;
    }
  }

  findOne(what: string, where: FindOptionsWhere<Row>): Promise<Row | null> {
    return this.db.run(what, (m) => m.findOneBy(this.entity, where));
  }

  list(what: string, options: FindManyOptions<Row>): Promise<Row[]> {
    return this.db.run(what, (m) => m.find(this.entity, options));
  }

  /** Answers false when no row matched. */
  delete(what: string, where: FindOptionsWhere<Row>): Promise<boolean> {
    return this.db.run(what, async (m) => ((await m.delete(this.entity, where)).affected ?? 0) > 0);
  }
}

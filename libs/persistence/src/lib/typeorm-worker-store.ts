import { Database } from './database';
import { EntityRows } from './entity-rows';
import { WorkerRow } from './entities';
import { WorkerRecord, WorkerStore } from './stores';

/** Workers as the cluster remembers them; times are ISO strings through the column transformer. */
export class TypeOrmWorkerStore implements WorkerStore {
  private readonly rows: EntityRows<WorkerRow>;

  constructor(db: Database) {
    this.rows = new EntityRows(db, db.entities.worker);
  }

  put(worker: WorkerRecord): Promise<void> {
    const row: WorkerRow = {
      id: worker.id,
      name: worker.name,
      address: worker.address,
      config_hash: worker.configHash,
      capacity: worker.capacity,
      registered_at: worker.registeredAt,
      last_seen: worker.lastSeen,
    };
    return this.rows.upsert(`saving worker ${worker.id}`, row, ['id']);
  }

  async get(id: string): Promise<WorkerRecord | null> {
    const row = await this.rows.findOne(`reading worker ${id}`, { id });
    return row ? workerFromRow(row) : null;
  }

  async list(): Promise<WorkerRecord[]> {
    return (await this.rows.list('listing workers', { order: { registered_at: 'ASC' } })).map(workerFromRow);
  }

  delete(id: string): Promise<boolean> {
    return this.rows.delete(`deleting worker ${id}`, { id });
  }
}

function workerFromRow(row: WorkerRow): WorkerRecord {
  return {
    id: row.id,
    name: row.name,
    address: row.address,
    configHash: row.config_hash,
    capacity: Number(row.capacity),
    registeredAt: row.registered_at,
    lastSeen: row.last_seen,
  };
}

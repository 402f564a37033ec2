import { Database } from './database';
import { WorkerRow } from './entities';
import { values } from './row-mapping';
import { WorkerRecord, WorkerStore } from './stores';

/** Workers as the cluster remembers them; times are ISO strings through the column transformer. */
export class TypeOrmWorkerStore implements WorkerStore {
  constructor(private readonly db: Database) {}

  put(worker: WorkerRecord): Promise<void> {
    return this.db.run(`saving worker ${worker.id}`, async (m) => {
      await m.upsert(
        this.db.entities.worker,
        values<WorkerRow>({
          id: worker.id,
          name: worker.name,
          address: worker.address,
          config_hash: worker.configHash,
          capacity: worker.capacity,
          registered_at: worker.registeredAt,
          last_seen: worker.lastSeen,
        }),
        ['id'],
      );
    });
  }

  get(id: string): Promise<WorkerRecord | null> {
    return this.db.run(`reading worker ${id}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.worker, { id });
      return row ? workerFromRow(row) : null;
    });
  }

  list(): Promise<WorkerRecord[]> {
    return this.db.run('listing workers', async (m) => {
      const rows = await m.find(this.db.entities.worker, { order: { registered_at: 'ASC' } });
      return rows.map(workerFromRow);
    });
  }

  delete(id: string): Promise<boolean> {
    return this.db.run(`deleting worker ${id}`, async (m) => {
      const result = await m.delete(this.db.entities.worker, { id });
      return (result.affected ?? 0) > 0;
    });
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

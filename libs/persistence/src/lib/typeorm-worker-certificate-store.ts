import { Database } from './database';
import { EntityRows } from './entity-rows';
import { WorkerCertificateRow } from './entities';
import { WorkerCertificateStore } from './stores';

/** The worker id ↔ certificate subject bindings of mutual TLS, shared by every master through the database. */
export class TypeOrmWorkerCertificateStore implements WorkerCertificateStore {
  private readonly rows: EntityRows<WorkerCertificateRow>;

  constructor(db: Database) {
    this.rows = new EntityRows(db, db.entities.workerCertificate);
  }

  async bind(workerId: string, subject: string): Promise<string> {
    const what = `binding worker ${workerId} to its certificate`;
    // The primary key decides between two masters binding the same id at once: one insert wins.
    if (await this.rows.insertNew(what, { worker_id: workerId, subject, bound_at: new Date().toISOString() })) return subject;
    const row = await this.rows.findOne(what, { worker_id: workerId });
    if (!row) throw new Error(`the certificate binding of worker ${workerId} vanished while it was read`);
    return row.subject;
  }
}

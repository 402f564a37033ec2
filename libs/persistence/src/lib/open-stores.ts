import type { Logger } from '@shipdeck/logging';
import type { DatabaseMetrics } from '@shipdeck/metrics';
import { connect } from './database';
import { TypeormAuthStore } from './auth';
import { Stores } from './stores';
import { Clock } from './row-mapping';
import { TypeOrmDeployedStore, TypeOrmEnvironmentStore, TypeOrmHostStore, TypeOrmPackageStore } from './typeorm-catalog-stores';
import { TypeOrmStepLogStore } from './typeorm-step-log-store';
import { TypeOrmTaskStore } from './typeorm-task-store';
import { TypeOrmWorkerCertificateStore } from './typeorm-worker-certificate-store';
import { TypeOrmWorkerStore } from './typeorm-worker-store';

/** Options of {@link openStores}. */
export interface OpenStoresOptions {
  /**
   * `file:/absolute/path.db` (embedded SQLite in WAL mode; the directory is created),
   * `file::memory:` (a private in-memory database), or `postgres://…` / `postgresql://…`, where
   * `?schema=NAME` keeps every table in that schema (created when migrating).
   */
  url: string;
  logger: Logger;
  /**
   * Bring the schema up to date before answering (default true). PostgreSQL migrations run under
   * an advisory lock, so masters starting together do not collide. When false, a schema that is
   * not up to date is refused with a (retryable) NotReadyError.
   */
  migrate?: boolean;
  /** The clock for times the stores stamp themselves (state changes, imports). Default: now. */
  now?: Clock;
  /** Where database reconnects are counted; none when absent. */
  metrics?: DatabaseMetrics;
}

/**
 * Opens every store over one database. Throws NotReadyError when the database cannot be reached,
 * ConfigError when the URL is unusable.
 */
export async function openStores(options: OpenStoresOptions): Promise<Stores> {
  const db = await connect({ url: options.url, logger: options.logger, migrate: options.migrate ?? true, metrics: options.metrics });
  const now = options.now ?? (() => new Date());
  return {
    tasks: new TypeOrmTaskStore(db, now),
    logs: new TypeOrmStepLogStore(db),
    hosts: new TypeOrmHostStore(db),
    environments: new TypeOrmEnvironmentStore(db),
    packages: new TypeOrmPackageStore(db, now),
    deployed: new TypeOrmDeployedStore(db),
    workers: new TypeOrmWorkerStore(db),
    workerCertificates: new TypeOrmWorkerCertificateStore(db),
    auth: new TypeormAuthStore(db),
    ping: () => db.run('checking the database', async (m) => void (await m.query('SELECT 1'))),
    close: () => db.close(),
  };
}

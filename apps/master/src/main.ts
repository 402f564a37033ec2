import { join } from 'node:path';
import { ConfigError } from '@shipdeck/errors';
import { Shutdown, listenHttp } from '@shipdeck/lifecycle';
import { computeConfigHash, loadConfig } from '@shipdeck/config';
import { createLogger } from '@shipdeck/logging';
import { MasterService, Reconciler, TaskAnnouncer, WorkerLink } from '@shipdeck/master-services';
import { openStores } from '@shipdeck/persistence';
import { createRegistry } from '@shipdeck/plugins';
import { InProcessTaskQueue } from '@shipdeck/queue';
import { createRestApp } from '@shipdeck/rest-api';
import { WorkerRuntime, loadOrCreateWorkerId } from '@shipdeck/worker-runtime';

declare const SHIPDECK_VERSION: string;

/** `shipdeck master`: a master, with its in-process worker in the embedded default. */
async function main(): Promise<void> {
  const home = process.env.SHIPDECK_HOME ?? process.cwd();
  const config = loadConfig({ home });
  const logger = createLogger({ level: config.log.level, json: process.env.NODE_ENV === 'production', name: 'master' });
  const shutdown = new Shutdown(logger);
  shutdown.onSignals();

  if (!config.task.inProcessWorker) {
    throw new ConfigError(
      'invalid configuration: task.inProcessWorker: false (cluster mode) needs the broker adapters, which this version does not have yet; set it to true',
    );
  }
  const registry = createRegistry({ pluginDir: join(home, 'plugins') });
  const configHash = computeConfigHash(home);
  const stores = await openStores({ url: config.db.url, logger, migrate: true });
  shutdown.add('database', () => stores.close());

  const masterId = `master-${config.server.hostname}-${config.server.port}`;
  const queue = new InProcessTaskQueue();
  shutdown.add('task queue', () => queue.close());
  const announcer = new TaskAnnouncer(queue, masterId, configHash, logger);

  const worker = new WorkerRuntime({
    workerId: loadOrCreateWorkerId(config.task.recovery.dir),
    queue,
    tasks: stores.tasks,
    logs: stores.logs,
    executors: registry.executorFor,
    capacity: config.task.maxActiveTasks,
    configHash,
    leaseMs: config.task.leaseDurationMs,
    workDir: config.task.recovery.dir,
    logger,
  });
  const link: WorkerLink = {
    stop: async (task) => void worker.stop(task.id),
    abort: async (task) => void worker.abort(task.id),
    isDisconnected: () => false,
  };
  const service = new MasterService({
    stores,
    registry,
    announcer,
    workers: link,
    logger,
    info: { version: SHIPDECK_VERSION, role: 'master', id: masterId, configHash, inProcessWorker: true },
  });

  const reconciler = new Reconciler({
    tasks: stores.tasks,
    announcer,
    logger,
    intervalMs: config.task.reconcileIntervalMs,
    republishAfterMs: config.task.reconcileAfterMs,
  });
  await worker.start();
  shutdown.add('in-process worker', () => worker.close());
  // The in-process queue starts empty: every task left QUEUED by the previous run is published again.
  await reconciler.tick(new Date());
  reconciler.start();
  shutdown.add('reconciler', () => reconciler.close());

  const server = await listenHttp(createRestApp({ service, logger }), config.server.port);
  shutdown.add('http server', () => server.close());
  logger.info(`Shipdeck master ${SHIPDECK_VERSION} listening on http://localhost:${config.server.port}`, {
    masterId,
    configHash,
    database: config.db.url.startsWith('file:') ? config.db.url : '(postgres)',
  });
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`shipdeck master: ${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`shipdeck master: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

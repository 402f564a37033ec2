import { join } from 'node:path';
import { ConfigError, ShipdeckError, isRetryable } from '@shipdeck/errors';
import { Shutdown, listenHttp, retryUntil } from '@shipdeck/lifecycle';
import { computeConfigHash, loadConfig } from '@shipdeck/config';
import { createLogger } from '@shipdeck/logging';
import { CommandChannelServer } from '@shipdeck/command-channel';
import {
  ClusterWorkers,
  InProcessWorkers,
  MasterService,
  Reconciler,
  TaskAnnouncer,
  WorkerPool,
} from '@shipdeck/master-services';
import { openStores } from '@shipdeck/persistence';
import { createRegistry } from '@shipdeck/plugins';
import { openTaskQueue } from '@shipdeck/queue';
import { createRestApp } from '@shipdeck/rest-api';
import { WorkerRuntime, loadOrCreateWorkerId, lockWorkDir } from '@shipdeck/worker-runtime';

declare const SHIPDECK_VERSION: string;

/** `shipdeck master`: a master, with its in-process worker in the embedded default. */
async function main(): Promise<void> {
  const home = process.env.SHIPDECK_HOME ?? process.cwd();
  const config = loadConfig({ home });
  const logger = createLogger({ level: config.log.level, json: process.env.NODE_ENV === 'production', name: 'master' });
  const shutdown = new Shutdown(logger);
  shutdown.onSignals();

  const registry = createRegistry({ pluginDir: join(home, 'plugins') });
  const configHash = computeConfigHash(home);
  const stores = await openStores({ url: config.db.url, logger, migrate: true });
  shutdown.add('database', () => stores.close());

  const masterId = `master-${config.server.hostname}-${config.server.port}`;
  const inProcess = config.task.inProcessWorker;
  if (inProcess && config.task.queue.url) {
    logger.warn('task.queue.url is ignored: the in-process worker gets its tasks from the in-process queue');
  }
  // A broker away for a moment (restarting, connections dropped) must not stop a master from
  // starting: Shipdeck errors say whether a retry can help (a ConfigError cannot); the broker
  // clients' own errors at this point are connection trouble.
  const queue = await retryUntil(
    'the message broker',
    () => openTaskQueue({ ...config.task.queue, url: inProcess ? null : config.task.queue.url, logger }),
    { timeoutMs: 120_000, logger, retryable: (error) => isRetryable(error) || !(error instanceof ShipdeckError) },
  );
  shutdown.add('task queue', () => queue.close());
  const announcer = new TaskAnnouncer(queue, masterId, configHash, logger);

  let workers: WorkerPool;
  if (inProcess) {
    shutdown.add('work directory lock', lockWorkDir(config.task.recovery.dir));
    const { recovery } = config.task;
    const worker = new WorkerRuntime({
      workerId: loadOrCreateWorkerId(recovery.dir),
      workDir: recovery.dir,
      queue, stores, configHash, logger,
      executors: registry.executorFor,
      capacity: config.task.maxActiveTasks,
      leaseMs: config.task.leaseDurationMs,
      takeover: { enabled: recovery.takeover === 'auto', afterMs: recovery.takeoverAfterMs },
    });
    await worker.start();
    shutdown.add('in-process worker', () => worker.close());
    workers = new InProcessWorkers({ worker, configHash, capacity: config.task.maxActiveTasks });
  } else {
    const cluster = new ClusterWorkers({ workers: stores.workers, configHash, gracePeriodMs: config.worker.gracePeriodMs, logger });
    const channel = new CommandChannelServer({
      port: config.server.workerPort,
      tls: config.channel.tls,
      masterId,
      configHash,
      heartbeatTimeoutMs: config.worker.gracePeriodMs,
      logger,
      onRegister: (session) => void cluster.connected(session),
      onUpdate: (session) => void cluster.seen(session),
      onClose: (session, reason) => cluster.disconnected(session, reason),
    });
    const { port } = await channel.start();
    shutdown.add('command channel', () => channel.close());
    logger.info(`External workers can connect to ${config.server.hostname}:${port}`, { tls: config.channel.tls !== null });
    workers = cluster;
  }
  const service = new MasterService({
    stores,
    registry,
    announcer,
    workers,
    logger,
    info: { version: SHIPDECK_VERSION, role: 'master', id: masterId, configHash, inProcessWorker: inProcess },
  });

  const reconciler = new Reconciler({
    tasks: stores.tasks,
    announcer,
    logger,
    intervalMs: config.task.reconcileIntervalMs,
    republishAfterMs: config.task.reconcileAfterMs,
  });
  // The in-process queue starts empty: every task left QUEUED by the previous run is published again.
  if (inProcess) await reconciler.tick(new Date());
  reconciler.start();
  shutdown.add('reconciler', () => reconciler.close());

  const server = await listenHttp(createRestApp({ service, logger }), config.server.port);
  shutdown.add('http server', () => server.close());
  logger.info(`Shipdeck master ${SHIPDECK_VERSION} listening on http://localhost:${server.port}`, {
    mode: inProcess ? 'embedded (in-process worker)' : 'cluster',
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

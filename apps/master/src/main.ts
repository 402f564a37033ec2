import { join } from 'node:path';
import { ConfigError, ShipdeckError, isRetryable } from '@shipdeck/errors';
import { Shutdown, listenHttp, retryUntil } from '@shipdeck/lifecycle';
import { ShipdeckConfig, computeConfigHash, loadConfig } from '@shipdeck/config';
import { Logger, createLogger } from '@shipdeck/logging';
import { Reconciler, TaskAnnouncer, createMasterServices } from '@shipdeck/master-services';
import { openStores } from '@shipdeck/persistence';
import { createRegistry } from '@shipdeck/plugins';
import { SignedTaskQueue, TaskQueue, openTaskQueue } from '@shipdeck/queue';
import { createRestApp } from '@shipdeck/rest-api';
import { displayHost, startAuth } from './auth';
import { startWorkerPool } from './worker-pool';

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
  const opened = await retryUntil(
    'the message broker',
    () => openTaskQueue({ ...config.task.queue, url: inProcess ? null : config.task.queue.url, logger }),
    { timeoutMs: 120_000, logger, retryable: (error) => isRetryable(error) || !(error instanceof ShipdeckError) },
  );
  shutdown.add('task queue', () => opened.close());
  // In a cluster, every task message is signed with the cluster secret (issue 10).
  const queue: TaskQueue = !inProcess && config.cluster.secret ? new SignedTaskQueue(opened, { secret: config.cluster.secret, logger }) : opened;
  if (!inProcess) warnAboutClusterSecurity(config, logger);
  const { pool: workers, isCurrent } = await startWorkerPool({ config, masterId, configHash, queue, stores, registry, logger, shutdown });
  const announcer = new TaskAnnouncer(queue, masterId, configHash, logger, isCurrent);
  const info = { version: SHIPDECK_VERSION, role: 'master' as const, id: masterId, configHash, inProcessWorker: inProcess };
  const services = createMasterServices({ stores, registry, announcer, workers, logger, info });

  const reconciler = new Reconciler({
    tasks: stores.tasks,
    announcer,
    logger,
    intervalMs: config.task.reconcileIntervalMs,
    republishAfterMs: config.task.reconcileAfterMs,
    isCurrent,
  });
  // The in-process queue starts empty: every task left QUEUED by the previous run is published again.
  if (inProcess) await reconciler.tick(new Date());
  reconciler.start();
  shutdown.add('reconciler', () => reconciler.close());

  const auth = await startAuth({ stores, logger, shutdown });
  const app = createRestApp({
    services,
    logger,
    auth: {
      service: auth,
      store: stores.auth,
      clusterSecret: config.cluster.secret,
      allowedHosts: config.server.allowedHosts,
      secureCookies: config.server.secureCookies,
    },
  });
  const server = await listenHttp(app, config.server.port, config.server.host);
  shutdown.add('http server', () => server.close());
  logger.info(`Shipdeck master ${SHIPDECK_VERSION} listening on http://${displayHost(config.server.host)}:${server.port}`, {
    mode: inProcess ? 'embedded (in-process worker)' : 'cluster',
    masterId,
    configHash,
    database: config.db.url.startsWith('file:') ? config.db.url : '(postgres)',
  });
}

main().catch(exitOnStartFailure);

/** Says, at every start, what a cluster without a secret or without TLS leaves open. */
function warnAboutClusterSecurity(config: ShipdeckConfig, logger: Logger): void {
  const { secret, insecure } = config.cluster;
  if (secret === null && config.channel.tls === null) {
    logger.warn(
      'cluster.insecure is true: this cluster runs without authentication. Any client that reaches the worker port can ' +
        'register as a worker and any message put into the task queue is executed. Set cluster.secret (SHIPDECK_CLUSTER_SECRET) or channel.tls.*',
      { insecure },
    );
  } else if (secret === null) {
    logger.warn('task messages are not signed: set cluster.secret (SHIPDECK_CLUSTER_SECRET) so that workers execute only messages from masters');
  }
}

/** A configuration problem exits 78 (EX_CONFIG) with its message alone; anything else exits 1 with its stack. */
function exitOnStartFailure(error: unknown): never {
  const configProblem = error instanceof ConfigError;
  const detail = configProblem ? error.message : `failed to start: ${error instanceof Error ? error.stack : String(error)}`;
  process.stderr.write(`shipdeck master: ${detail}\n`);
  process.exit(configProblem ? 78 : 1);
}

import { RequestListener } from 'node:http';
import { join } from 'node:path';
import { FieldError, ShipdeckError, isRetryable } from '@shipdeck/errors';
import { Shutdown, listenHttp, readPemFiles, retryUntil } from '@shipdeck/lifecycle';
import { ShipdeckConfig, computeConfigHash, loadConfig, openOrCreateSecretBox } from '@shipdeck/config';
import { Logger, createLogger } from '@shipdeck/logging';
import { MasterServices, Reconciler, TaskAnnouncer, createMasterServices } from '@shipdeck/master-services';
import { PrometheusMetrics } from '@shipdeck/metrics';
import { openStores } from '@shipdeck/persistence';
import { createRegistry } from '@shipdeck/plugins';
import { SignedTaskQueue, TaskQueue, openTaskQueue } from '@shipdeck/queue';
import { createRestApp } from '@shipdeck/rest-api';
import { displayHost, startAuth } from './auth';
import { StartFailure, brokerFailure, databaseFailure, ensurePortFree, portBusy, reportStartFailure } from './start-failure';
import { startWorkerPool } from './worker-pool';

declare const SHIPDECK_VERSION: string;

/** How long a starting master waits for a broker that is away for a moment. */
const BROKER_WAIT_MS = 120_000;

/** `shipdeck master [--strict]`: a master, with its in-process worker in the embedded default. */
async function main(): Promise<void> {
  const args = process.argv.slice(3);
  const unknown = args.filter((arg) => arg !== '--strict');
  if (unknown.length > 0) {
    throw new StartFailure(`unknown argument ${unknown[0]}; usage: shipdeck master [--strict] (see shipdeck master --help)`, 64);
  }
  const home = process.env.SHIPDECK_HOME ?? process.cwd();
  const warnings: FieldError[] = [];
  const config = loadConfig({ home, strict: args.includes('--strict'), onWarning: (w) => warnings.push(w) });
  const logger = createLogger({ level: config.log.level, json: config.log.format === 'json', name: 'master' });
  for (const w of warnings) logger.warn(`configuration: ${w.field}: ${w.message} (shipdeck master --strict refuses to start)`);
  const shutdown = new Shutdown(logger);
  shutdown.onSignals();

  // The ports first: a busy port is the quickest problem to report, before any connection is made.
  // Until the services are ready the API answers 503, as /health/ready does.
  let handler: RequestListener = notReadyYet;
  const https = config.server.tls && readPemFiles(
    {
      cert: { path: config.server.tls.certFile, key: 'server.tls.cert', what: 'certificate' },
      key: { path: config.server.tls.keyFile, key: 'server.tls.key', what: 'private key' },
    },
    'HTTPS',
  );
  const server = await listenHttp((req, res) => handler(req, res), config.server.port, config.server.host, https || undefined).catch(
    (error: unknown) => {
      throw portBusy(error, config.server.port, 'server.port');
    },
  );
  if (!config.task.inProcessWorker) await ensurePortFree(config.server.workerPort, 'server.workerPort');

  // After the ports (a busy port is reported before anything is written): a broken key stops the
  // master here (exit 78); a missing key file is created (0600).
  const secrets = openOrCreateSecretBox(config);
  const registry = createRegistry({ pluginDir: join(home, 'plugins') });
  const configHash = computeConfigHash(home);
  // Without an in-process worker, a master exports no worker series (they would stay empty).
  const metrics = new PrometheusMetrics({ component: 'master', roles: { master: true, worker: config.task.inProcessWorker } });
  const stores = await openStores({ url: config.db.url, logger, migrate: true, metrics }).catch((error: unknown) => {
    throw databaseFailure(error, config);
  });
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
    () => openTaskQueue({ ...config.task.queue, url: inProcess ? null : config.task.queue.url, logger, metrics }),
    { timeoutMs: BROKER_WAIT_MS, logger, retryable: (error) => isRetryable(error) || !(error instanceof ShipdeckError) },
  ).catch((error: unknown) => {
    throw brokerFailure(error, config, BROKER_WAIT_MS);
  });
  shutdown.add('task queue', () => opened.close());
  // In a cluster, every task message is signed with the cluster secret (issue 10).
  const queue: TaskQueue = !inProcess && config.cluster.secret ? new SignedTaskQueue(opened, { secret: config.cluster.secret, logger }) : opened;
  if (!inProcess) warnAboutClusterSecurity(config, logger);
  metrics.watchTasks(() => stores.tasks.countByStateAndType());
  const { pool: workers, isCurrent } = await startWorkerPool({ config, masterId, configHash, queue, stores, registry, secrets, logger, shutdown, metrics });
  // The states alone: no task list is read for it.
  metrics.watchWorkers(async () => (await workers.list([])).map((worker) => worker.state));
  const announcer = new TaskAnnouncer(queue, masterId, configHash, logger, isCurrent, metrics);
  const info = { version: SHIPDECK_VERSION, role: 'master' as const, id: masterId, configHash, inProcessWorker: inProcess };
  const services = createMasterServices({ stores, registry, secrets, announcer, workers, logger, info, maxPlanSteps: config.task.maxPlanSteps });

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

  const auth = await startAuth({ stores, logger, shutdown, jsonLogs: config.log.format === 'json' });
  handler = createRestApp({
    services,
    logger,
    metrics,
    auth: {
      service: auth,
      store: stores.auth,
      clusterSecret: config.cluster.secret,
      allowedHosts: config.server.allowedHosts,
      secureCookies: config.server.secureCookies,
      trustProxy: config.server.trustProxy,
    },
  });
  shutdown.add('http server', () => server.close());
  // Runs first on shutdown, while the API still answers, so that clients following a task see it stop.
  if (inProcess) shutdown.add('running steps', () => letRunningStepsFinish(services, config, logger));
  logger.info(`Shipdeck master ${SHIPDECK_VERSION} listening on ${server.scheme}://${displayHost(config.server.host)}:${server.port}`, {
    mode: inProcess ? 'embedded (in-process worker)' : 'cluster',
    masterId,
    configHash,
    database: config.db.url.startsWith('file:') ? config.db.url : '(postgres)',
    // Which key seals secret values: every master and worker of a cluster needs the same one.
    secretsKeyId: secrets.keyId,
    secretsKeyFrom: config.secrets.key ? 'secrets.key' : config.secrets.keyFile,
  });
}

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

/**
 * The shutdown grace period of the embedded master: every executing task is asked to stop after
 * its running step(s), which get `task.shutdownGracePeriod` to finish (the task then ends STOPPED
 * and is started again later). What still runs after that is interrupted by the worker's close:
 * those steps and tasks end FAILED, as before.
 */
async function letRunningStepsFinish(services: MasterServices, config: ShipdeckConfig, logger: Logger): Promise<void> {
  const stopping = await services.tasks.stopExecuting();
  if (stopping.length === 0) return;
  const graceMs = config.task.shutdownGracePeriodMs;
  const steps = stopping.flatMap((t) => t.steps.filter((s) => s.state === 'EXECUTING').map((s) => `task ${t.id} step ${s.path}`));
  logger.warn(
    `waiting up to ${graceMs / 1000}s (task.shutdownGracePeriod) for ${steps.length} running step(s) to finish: ${steps.join(', ')}; ` +
      'their tasks then stop (STOPPED; start them again later). Steps still running after that are interrupted and ' +
      'their tasks end FAILED. Press Ctrl-C again to stop at once.',
    { tasks: stopping.map((t) => t.id) },
  );
  const ids = stopping.map((t) => t.id);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && (await services.tasks.anyActive(ids))) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(200, Math.max(0, deadline - Date.now()))));
  }
  if (await services.tasks.anyActive(ids)) {
    logger.warn(`the grace period (task.shutdownGracePeriod, ${graceMs / 1000}s) is over: interrupting the steps still running`);
  } else {
    logger.info('every running step finished; shutting down');
  }
}

/** What the HTTP port answers while the master starts. */
const notReadyYet: RequestListener = (_req, res) => {
  res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
  res.end(JSON.stringify({ error: { code: 'NOT_READY', message: 'the master is starting', details: [] } }));
};

main().catch((error: unknown) => reportStartFailure(error, process.env));

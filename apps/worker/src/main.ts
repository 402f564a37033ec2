import type { RequestListener } from 'node:http';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ShipdeckConfig, computeConfigHash, loadConfig, openSecretBox } from '@shipdeck/config';
import { ConfigError, ErrorCode, ShipdeckError, isRetryable } from '@shipdeck/errors';
import { Shutdown, listenHttp, retryUntil } from '@shipdeck/lifecycle';
import { Logger, createLogger } from '@shipdeck/logging';
import { PrometheusMetrics } from '@shipdeck/metrics';
import { openStores } from '@shipdeck/persistence';
import { createRegistry, withSecrets } from '@shipdeck/plugins';
import { SignedTaskQueue, TaskQueue, openTaskQueue } from '@shipdeck/queue';
import { CommandChannelClient, reconnectBackoffWithin } from '@shipdeck/command-channel';
import { ConfigCompatibility, LiveMaster, WorkerRuntime, loadOrCreateWorkerId, lockWorkDir, systemClock } from '@shipdeck/worker-runtime';
import { checkMasterAcceptsWorkers } from './master-check';
import { executeWorkerCommand, registrationOf } from './worker-commands';
import { parseWorkerFlags } from './worker-flags';

declare const SHIPDECK_VERSION: string;

/** `shipdeck worker`: an external (or local) worker of a cluster. */
async function main(): Promise<void> {
  const home = process.env.SHIPDECK_HOME ?? process.cwd();
  const flags = parseWorkerFlags(process.argv.slice(3));
  const warnings: string[] = [];
  const config = loadConfig({ home, onWarning: (w) => warnings.push(`configuration: ${w.field}: ${w.message}`) });
  const logger = createLogger({ level: config.log.level, json: config.log.format === 'json', name: 'worker' });
  for (const warning of warnings) logger.warn(warning);
  if (config.task.inProcessWorker) {
    throw new ConfigError(
      'invalid configuration: task.inProcessWorker: true means the masters run their own in-process worker and refuse external workers; set task.inProcessWorker: false (conf/shipdeck.yaml or SHIPDECK_TASK_IN_PROCESS_WORKER=false) on masters and workers',
    );
  }
  // A broken key stops the worker here (exit 78). Without any key it runs, and fails only the steps
  // that need a secret, saying so: the key is the masters'; a worker never makes one up.
  const secrets = openSecretBox(config);
  if (secrets) logger.info('secrets key loaded', { keyId: secrets.keyId });
  else logger.warn(`no secrets key (secrets.key, or the file ${config.secrets.keyFile}): steps that need a secret will fail`);
  // A local worker (same installation as its master) finds the master on this machine by default.
  const api = flags.api ?? `http://localhost:${config.server.port}`;
  const masters = flags.masters.length > 0 ? flags.masters : [`localhost:${config.server.workerPort}`];
  await checkMasterAcceptsWorkers(api, config.cluster.secret, logger);

  const shutdown = new Shutdown(logger);
  const workDir = flags.workDir ? resolve(flags.workDir) : config.task.recovery.dir;
  shutdown.add('work directory lock', lockWorkDir(workDir));
  const workerId = loadOrCreateWorkerId(workDir);
  const configHash = computeConfigHash(home);
  const registry = createRegistry({ pluginDir: join(home, 'plugins') });

  const metrics = new PrometheusMetrics({ component: 'worker' });
  // Probes come from the start on, while the worker may still wait minutes for the database or the
  // broker: until its runtime has started they answer "not ready", like a master's.
  let probe: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ error: { code: ErrorCode.NOT_READY, message: 'the worker is starting', details: [] }, workerId }));
  };
  // The metrics answer from the start too: a scrape while the worker waits sees the process, not a 503.
  const health = await listenHttp((req, res) => {
    if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
      void metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text),
        (error: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
      );
      return;
    }
    probe(req, res);
  }, flags.port);
  shutdown.add('health server', () => health.close());
  logger.info(`health endpoint listening on port ${health.port}`);

  // Masters migrate the database; a worker started first waits for them.
  const stores = await retryUntil('the database (masters migrate it at start)', () =>
    openStores({ url: config.db.url, logger, migrate: false, metrics }), { timeoutMs: 120_000, logger });
  shutdown.add('database', () => stores.close());
  // A broker away for a moment (restarting, connections dropped) is waited for like the database:
  // Shipdeck errors say whether a retry can help (a ConfigError cannot); the broker clients' own
  // errors at this point are connection trouble.
  const opened = await retryUntil('the message broker', () => openTaskQueue({ ...config.task.queue, logger, metrics }), {
    timeoutMs: 120_000,
    logger,
    retryable: (error) => isRetryable(error) || !(error instanceof ShipdeckError),
  });
  shutdown.add('task queue', () => opened.close());
  // With a cluster secret, only messages signed by a master of the cluster reach the runtime (issue 10).
  const queue: TaskQueue = config.cluster.secret ? new SignedTaskQueue(opened, { secret: config.cluster.secret, logger }) : opened;
  warnAboutClusterSecurity(config, logger);

  const identity = {
    name: flags.name ?? workerId,
    address: `${flags.hostname ?? hostname()}:${health.port}`,
    configHash,
    capacity: config.task.maxActiveTasks,
  };
  // The masters this worker is connected to, and the configuration hash each told it (spec §3).
  const liveMasters = (): LiveMaster[] =>
    channel
      .masters()
      .filter((m) => m.connected && m.masterId !== undefined && m.configHash !== undefined)
      .map((m) => ({ masterId: m.masterId!, configHash: m.configHash! }));
  // The worker drains only when every live master has another configuration, never for one message.
  const compatibility = new ConfigCompatibility({
    configHash,
    liveMasters,
    settleMs: config.worker.gracePeriodMs,
    clock: systemClock,
    logger,
    onIncompatible: (reason) => {
      incompatible = reason;
      void worker.drain(reason);
    },
  });
  // Decided before the runtime started (it drains only once RUNNING): drained right after the start.
  let incompatible: string | undefined;
  let acceptedByAMaster!: () => void;
  const accepted = new Promise<void>((resolve) => (acceptedByAMaster = resolve));
  const channel = new CommandChannelClient({
    masters,
    defaultPort: config.server.workerPort,
    dnsServers: config.worker.dnsServers,
    resolveIntervalMs: config.worker.connectIntervalMs,
    tls: config.channel.tls,
    secret: config.cluster.secret,
    heartbeatIntervalMs: config.worker.heartbeatIntervalMs,
    // A restarted master must hear from this worker within the grace period, or it shows its tasks UNKNOWN.
    reconnect: reconnectBackoffWithin(config.worker.gracePeriodMs),
    registration: () => registrationOf(worker, identity),
    onCommand: (command, master) => executeWorkerCommand(worker, command, master),
    onWelcome: (master) => {
      acceptedByAMaster();
      if (master.configHash !== configHash) {
        logger.warn(`master ${master.masterId} has another configuration: it lists this worker INCOMPATIBLE`, {
          masterHash: master.configHash,
          workerHash: configHash,
        });
      }
      compatibility.check();
    },
    onMasterLost: () => compatibility.check(),
    logger,
  });
  const worker: WorkerRuntime = new WorkerRuntime({
    workerId, workDir, queue, stores, configHash, logger,
    executors: withSecrets(registry.executorFor, secrets),
    capacity: config.task.maxActiveTasks,
    leaseMs: config.task.leaseDurationMs,
    takeover: { enabled: config.task.recovery.takeover === 'auto', afterMs: config.task.recovery.takeoverAfterMs },
    metrics,
    liveMasterHashes: () => liveMasters().map((m) => m.configHash),
    // Masters learn at once that the worker drains (it also says so in every heartbeat).
    onStateChange: () => channel.announce(),
    // After a drain (requested, a configuration mismatch, SIGTERM) the worker leaves.
    onDrained: () =>
      void shutdown.close().then(() => {
        logger.info('worker drained: exiting');
        process.exit(0);
      }),
  });
  metrics.watchWorkerRuntime(() => ({ capacity: identity.capacity, ...worker.stats }));
  // The work directory (recovery files, ghost tasks) is read before the worker registers with any
  // master: its registrations list what it holds, and restoring ghost tasks finds them.
  await worker.recover();
  await channel.start();
  shutdown.add('command channel', () => channel.close());
  shutdown.add('configuration watch', () => compatibility.stop());
  // The first SIGTERM drains (running tasks finish, then the worker exits 0); a second one stops now.
  let signalled = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (!signalled && worker.state === 'RUNNING') {
        signalled = true;
        logger.info(`${signal} received: draining (send it again to stop now)`, { running: worker.runningTaskIds.length });
        void worker.drain(`${signal} received`);
        return;
      }
      logger.info(`${signal} received: stopping now`);
      void shutdown.close().then(() => process.exit(0));
    });
  }

  // Take tasks only once a master accepted this worker: a task on a worker that no master can
  // reach could be neither stopped nor aborted, and would show UNKNOWN throughout.
  const reminder = setInterval(
    () => logger.warn('no master has accepted this worker on its command channel yet; not taking tasks', { masters }),
    10_000,
  );
  await accepted;
  clearInterval(reminder);
  await worker.start();
  shutdown.add('worker', () => worker.close());
  probe = (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ status: 'UP', workerId, state: worker.state, running: worker.runningTaskIds.length }));
  };
  if (incompatible !== undefined) void worker.drain(incompatible);
  channel.announce();
  logger.info(`Shipdeck worker ${SHIPDECK_VERSION} started`, {
    workerId,
    workerName: identity.name,
    address: identity.address,
    capacity: identity.capacity,
    configHash,
    masters,
    api,
  });
}

/** Says, at every start, what a cluster without a secret leaves open. */
function warnAboutClusterSecurity(config: ShipdeckConfig, logger: Logger): void {
  if (config.cluster.secret !== null) return;
  logger.warn(
    config.channel.tls === null
      ? 'cluster.insecure is true: this worker executes any message put into the task queue and trusts any master it reaches. ' +
          'Set cluster.secret (SHIPDECK_CLUSTER_SECRET) or channel.tls.*'
      : 'task messages are not signed: set cluster.secret (SHIPDECK_CLUSTER_SECRET) so that this worker executes only messages from masters',
  );
}

main().catch((error: unknown) => {
  if (error instanceof ShipdeckError) {
    process.stderr.write(`shipdeck worker: ${error.message}\n`);
    process.exit(78);
  }
  process.stderr.write(`shipdeck worker: failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

import { CommandChannelServer } from '@shipdeck/command-channel';
import { ShipdeckConfig } from '@shipdeck/config';
import { Shutdown } from '@shipdeck/lifecycle';
import { Logger } from '@shipdeck/logging';
import { PrometheusMetrics } from '@shipdeck/metrics';
import { ClusterWorkers, InProcessWorkers, WorkerPool } from '@shipdeck/master-services';
import { Stores } from '@shipdeck/persistence';
import { SecretBox } from '@shipdeck/domain';
import { PluginRegistry, withSecrets } from '@shipdeck/plugins';
import { TaskQueue } from '@shipdeck/queue';
import { WorkerRuntime, loadOrCreateWorkerId, lockWorkDir } from '@shipdeck/worker-runtime';

/** What the master has opened that its workers need. */
export interface WorkerPoolContext {
  config: ShipdeckConfig;
  masterId: string;
  configHash: string;
  queue: TaskQueue;
  stores: Stores;
  registry: PluginRegistry;
  /** Opens the secrets of the steps the in-process worker runs. */
  secrets: SecretBox | null;
  logger: Logger;
  shutdown: Shutdown;
  /** The master's metrics; the in-process worker reports there too. */
  metrics: PrometheusMetrics;
}

/** The master's workers, and whether one of them can take this master's tasks. */
export interface StartedWorkers {
  pool: WorkerPool;
  /**
   * Whether this master's configuration is current: a live worker with the same configuration
   * hash takes tasks (always true with the in-process worker). The reconciler asks it.
   */
  isCurrent(): boolean;
}

/**
 * Starts the master's workers: the in-process worker of the embedded default, or the command
 * channel external workers of a cluster connect to. Each registers its own shutdown steps.
 */
export async function startWorkerPool(context: WorkerPoolContext): Promise<StartedWorkers> {
  if (context.config.task.inProcessWorker) return { pool: await startInProcessWorker(context), isCurrent: () => true };
  return startCommandChannel(context);
}

async function startInProcessWorker({ config, queue, stores, registry, secrets, configHash, logger, shutdown, metrics }: WorkerPoolContext) {
  const workDir = config.task.recovery.dir;
  shutdown.add('work directory lock', lockWorkDir(workDir));
  const workerId = loadOrCreateWorkerId(workDir);
  const { recovery } = config.task;
  const worker = new WorkerRuntime({
    workerId, workDir, queue, stores, configHash, logger,
    executors: withSecrets(registry.executorFor, secrets),
    capacity: config.task.maxActiveTasks,
    leaseMs: config.task.leaseDurationMs,
    takeover: { enabled: recovery.takeover === 'auto', afterMs: recovery.takeoverAfterMs },
    metrics,
  });
  metrics.watchWorkerRuntime(() => ({ capacity: config.task.maxActiveTasks, ...worker.stats }));
  await worker.start();
  shutdown.add('in-process worker', () => worker.close());
  return new InProcessWorkers({ worker, configHash, capacity: config.task.maxActiveTasks });
}

async function startCommandChannel({ config, stores, masterId, configHash, logger, shutdown }: WorkerPoolContext): Promise<StartedWorkers> {
  const cluster = new ClusterWorkers({
    workers: stores.workers,
    configHash,
    gracePeriodMs: config.worker.gracePeriodMs,
    pruneAfterMs: config.worker.pruneAfterMs,
    logger,
  });
  const channel = new CommandChannelServer({
    port: config.server.workerPort,
    tls: config.channel.tls,
    // Every master binds a worker id to its certificate subject in the shared database.
    certificateBindings: stores.workerCertificates,
    secret: config.cluster.secret,
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
  logger.info(`External workers can connect to ${config.server.hostname}:${port}`, {
    tls: config.channel.tls !== null,
    clusterSecret: config.cluster.secret !== null,
  });
  const isCurrent = () =>
    channel.sessions().some((s) => s.open && s.runState === 'RUNNING' && s.registration.configHash === configHash);
  return { pool: cluster, isCurrent };
}

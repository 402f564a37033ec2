import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { artemisDeleteQueue } from '../../test/queue/artemis';
import { startCluster, type Cluster } from '../../test/support/cluster';
import { BenchArgs } from './args';
import { Cleanup } from './cleanup';
import { AMQP_URL, DATABASE_URL, queueUrl } from './services';
import type { WatchedDatabase } from './watch';

/** The cluster the bench drives. */
export interface BenchCluster {
  /** Base URLs of the masters (`http://127.0.0.1:PORT`). */
  masters: string[];
  /** Worker id → its name (worker-1, …) for the report; empty when unknown. */
  workerNames(): Record<string, string>;
  /** Pids of the masters and the workers (for CPU accounting); empty when unknown. */
  masterPids(): number[];
  workerPids(): number[];
  /**
   * How many times the masters' reconciler published a task again because it stayed QUEUED
   * without a claim for `task.reconcileAfter` (counted in the masters' logs); null when unknown.
   */
  republished(): number | null;
  /** Name → pid of every running master and worker (`master-1`, `worker-2`…), for memory figures. */
  processes(): Record<string, number>;
  /** The launcher's cluster, for modes that add, kill and restart workers; undefined with --attach. */
  launched?: Cluster;
  /** The launched cluster's database (for `--watch database`); undefined with --attach. */
  database?: WatchedDatabase;
  /** What it runs on (schema, queue, directory), for the log. */
  label: string;
  /** The last lines of every process's output, for an error message; empty when unknown. */
  describe(lines: number): string;
}

/** Masters somebody else started (`--attach`): nothing is known of their processes. */
export function attachCluster(masters: string[]): BenchCluster {
  return {
    masters,
    workerNames: () => ({}),
    masterPids: () => [],
    workerPids: () => [],
    processes: () => ({}),
    describe: () => '',
    label: masters.join(', '),
    republished: () => null,
  };
}

/**
 * The team's cluster launcher (test/support/cluster.ts): M masters and N workers on a schema
 * and a queue of their own, in a temporary installation directory. The launcher's test-friendly
 * reconciler timing (republish after 2 s) is put back to the product defaults (every 5 s, after
 * 10 s, or `--reconcile-after`): the bench measures Shipdeck as shipped. Stopping it (processes, schema, queue, directory) is
 * registered with `cleanup` before it is even up, so Ctrl-C during the start removes it too.
 */
export async function startBenchCluster(args: BenchArgs, cleanup: Cleanup): Promise<BenchCluster> {
  const starting = startCluster({
    masters: args.masters,
    workers: args.workers,
    databaseUrl: DATABASE_URL,
    amqpUrl: AMQP_URL,
    extraPlugins: [],
    env: {
      // The launcher knows RabbitMQ only: on Artemis its queue URL is replaced for the processes
      // (the launcher's RabbitMQ check and queue removal then concern a queue that never existed there).
      ...(args.transport === 'rabbitmq-amqp' ? {} : { SHIPDECK_TASK_QUEUE_URL: queueUrl(args.transport), SHIPDECK_TASK_QUEUE_DIALECT: 'auto' }),
      SHIPDECK_LOG_LEVEL: args.logLevel,
      SHIPDECK_TASK_RECONCILE_INTERVAL: '5s',
      SHIPDECK_TASK_RECONCILE_AFTER: args.reconcileAfter,
      ...(args.cpuProfile ? profiling(args.cpuProfile) : {}),
    },
    workerEnv: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: String(args.capacity) },
  });
  cleanup.add('stop the cluster (processes, schema, queue, temporary directory)', async () => {
    const cluster = await starting.catch(() => undefined);
    await cluster?.stop();
    if (cluster && args.transport !== 'rabbitmq-amqp') await artemisDeleteQueue(cluster.queueName);
  });
  const cluster: Cluster = await starting;
  return {
    masters: cluster.masters.map((m) => m.url),
    workerNames: () =>
      Object.fromEntries(cluster.workers.filter((w) => w.id !== undefined).map((w) => [w.id as string, w.name])),
    masterPids: () => cluster.masters.map((m) => m.pid),
    workerPids: () => cluster.workers.map((w) => w.pid),
    processes: () =>
      Object.fromEntries(
        [...cluster.masters, ...cluster.workers].filter((p) => p.status === undefined).map((p) => [p.name, p.pid] as const),
      ),
    launched: cluster,
    database: { url: DATABASE_URL, schema: cluster.schema },
    describe: (lines) => cluster.describe(lines),
    republished: () => countInLogs(cluster.logDir, /^master-/, REPUBLISHED),
    label: `${args.transport}, schema ${cluster.schema}, queue ${cluster.queueName}, logs in ${cluster.logDir}`,
  };
}

/** The reconciler's log line for a stale task it publishes again (libs/master-services reconciler.ts). */
const REPUBLISHED = 'task still queued without a claim: publishing it again';

function countInLogs(dir: string, files: RegExp, text: string): number | null {
  try {
    let count = 0;
    for (const file of readdirSync(dir).filter((name) => files.test(name))) {
      count += readFileSync(join(dir, file), 'utf8').split(text).length - 1;
    }
    return count;
  } catch {
    return null;
  }
}

/** The environment that makes a launched process profile itself into `dir` (`--cpu-profile`). */
function profiling(dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true });
  const preload = join(__dirname, 'cpu-profile-preload.js');
  return { NODE_OPTIONS: `--require ${preload}`, SHIPDECK_BENCH_CPU_PROFILE_DIR: dir };
}

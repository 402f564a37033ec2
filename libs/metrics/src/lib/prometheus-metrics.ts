import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  DatabaseMetrics,
  HttpMetrics,
  HttpRequestObservation,
  PublishOutcome,
  QueueMetrics,
  StepObservation,
  TaskMessageMetrics,
  WorkerRuntimeMetrics,
} from './sinks';

/** The number of tasks in one (state, type), as the database counts them. */
export interface TaskCount {
  state: string;
  type: string;
  count: number;
}

/** What a worker runtime shows of itself at scrape time. */
export interface WorkerRuntimeGauges {
  capacity: number;
  running: number;
  ghosts: number;
  /** Tasks adopted from other workers since start (a running total). */
  takeovers: number;
}

/** Options of {@link PrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** Which process this is (`master`, `worker`), as the `component` label of every series. */
  component: string;
  /**
   * Add the process metrics of prom-client (CPU, memory, event loop lag, handles, GC).
   * @default true
   */
  processMetrics?: boolean;
  /**
   * Which parts the process runs: only their series are exported (a master of a cluster shows no
   * empty worker histograms). Default: a `worker` runs the worker part only; a `master` both (the
   * embedded default's in-process worker).
   */
  roles?: { master: boolean; worker: boolean };
}

const COLLECT_FAILURES = 'shipdeck_metrics_collect_failures_total';

/** Seconds: from a fast health probe to a slow package import. */
const HTTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Seconds: a claim within milliseconds when workers are idle, minutes when they are all busy. */
const CLAIM_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
/** Seconds: a step from a no-op to a long copy or a restart. */
const STEP_BUCKETS = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

/**
 * Every Shipdeck metric, defined once, in one registry of its own (not prom-client's global one,
 * so that two in one process, as in tests, do not collide). Implements every sink of sinks.ts;
 * the gauges read at scrape time are added by the `watch…` methods for the parts a process has.
 */
export class PrometheusMetrics implements HttpMetrics, TaskMessageMetrics, WorkerRuntimeMetrics, QueueMetrics, DatabaseMetrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  private readonly published: Counter<'outcome'>;
  private readonly republished: Counter;
  private readonly delivered: Counter;
  private readonly handedBack: Counter;
  private readonly claimLatency: Histogram;
  private readonly stepDuration: Histogram<'step_type' | 'outcome'>;
  private readonly recovered: Counter;
  private readonly redelivered: Counter;
  private readonly brokerReconnects: Counter;
  private readonly databaseReconnects: Counter;
  private readonly collectFailures: Counter<'collector'>;
  /** The reads of the scrape in progress, which the failure counter waits for so that a scrape shows its own failures. */
  private readonly pendingReads = new Set<Promise<unknown>>();

  constructor(options: PrometheusMetricsOptions) {
    const registers = [this.registry];
    const roles = options.roles ?? { master: options.component !== 'worker', worker: true };
    // Series of a part the process does not run are defined all the same (the sinks stay one
    // object) but not registered: they would only show as empty series.
    const masterOnly = roles.master ? registers : [];
    const workerOnly = roles.worker ? registers : [];
    this.registry.setDefaultLabels({ component: options.component });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'shipdeck_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status, and how long they took',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
      registers: masterOnly,
    });
    this.published = new Counter({
      name: 'shipdeck_task_messages_published_total',
      help: 'Task messages published by this master (outcome: published, or failed and left to the reconciler)',
      labelNames: ['outcome'],
      registers: masterOnly,
    });
    this.republished = new Counter({
      name: 'shipdeck_reconciler_republished_total',
      help: 'Messages of tasks that stayed QUEUED without a claim, published again by the reconciler',
      registers: masterOnly,
    });
    this.delivered = new Counter({
      name: 'shipdeck_task_messages_delivered_total',
      help: 'Task messages delivered to this worker (a message delivered again counts again)',
      registers: workerOnly,
    });
    this.handedBack = new Counter({
      name: 'shipdeck_task_messages_handed_back_total',
      help: 'Task messages this worker gave back to the broker unexecuted',
      registers: workerOnly,
    });
    this.claimLatency = new Histogram({
      name: 'shipdeck_task_queued_to_claimed_seconds',
      help: 'Time from a task becoming QUEUED to a worker claiming it',
      buckets: CLAIM_BUCKETS,
      registers: workerOnly,
    });
    this.stepDuration = new Histogram({
      name: 'shipdeck_step_duration_seconds',
      help: 'Duration of the steps that ended on this worker, by step type and outcome',
      labelNames: ['step_type', 'outcome'],
      buckets: STEP_BUCKETS,
      registers: workerOnly,
    });
    this.recovered = new Counter({
      name: 'shipdeck_tasks_recovered_total',
      help: 'Tasks a previous run left active that the start-up recovery ended',
      registers: workerOnly,
    });
    this.redelivered = new Counter({
      name: 'shipdeck_task_messages_redelivered_total',
      help: 'Task messages delivered to this process that the broker marks as delivered before',
      registers: workerOnly,
    });
    this.brokerReconnects = new Counter({
      name: 'shipdeck_broker_reconnects_total',
      help: 'Times the connection to the message broker dropped and was made again',
      registers,
    });
    this.databaseReconnects = new Counter({
      name: 'shipdeck_database_reconnects_total',
      help: 'Times the database was unreachable and answered again',
      registers,
    });
    const pendingReads = this.pendingReads;
    this.collectFailures = new Counter({
      name: COLLECT_FAILURES,
      help: 'Scrapes where a gauge read at scrape time could not be read (e.g. the database was unreachable)',
      labelNames: ['collector'],
      registers,
      async collect() {
        await Promise.allSettled([...pendingReads]);
      },
    });
  }

  /** The media type of {@link render}'s answer. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Every metric in the Prometheus text format. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  httpRequest({ method, route, status, durationSeconds }: HttpRequestObservation): void {
    this.httpDuration.observe({ method, route, status: String(status) }, durationSeconds);
  }

  taskMessagePublished(outcome: PublishOutcome): void {
    this.published.inc({ outcome });
  }

  reconcilerRepublished(): void {
    this.republished.inc();
  }

  taskMessageDelivered(): void {
    this.delivered.inc();
  }

  taskMessageHandedBack(): void {
    this.handedBack.inc();
  }

  taskClaimed(queuedToClaimedSeconds: number | null): void {
    // A task claimed without a QUEUED time (recorded before that column existed) has no latency to show.
    if (queuedToClaimedSeconds !== null) this.claimLatency.observe(Math.max(0, queuedToClaimedSeconds));
  }

  stepEnded({ stepType, outcome, durationSeconds }: StepObservation): void {
    this.stepDuration.observe({ step_type: stepType, outcome }, Math.max(0, durationSeconds));
  }

  tasksRecovered(count: number): void {
    this.recovered.inc(count);
  }

  taskMessageRedelivered(): void {
    this.redelivered.inc();
  }

  brokerReconnected(): void {
    this.brokerReconnects.inc();
  }

  databaseReconnected(): void {
    this.databaseReconnects.inc();
  }

  /**
   * Runs a read of a gauge's collect, counting a failure as a collect failure (the gauge then has
   * no series) instead of failing the whole scrape.
   */
  private async read<T>(collector: string, read: () => Promise<T>): Promise<T | null> {
    const pending = read();
    this.pendingReads.add(pending);
    try {
      return await pending;
    } catch {
      this.collectFailures.inc({ collector });
      return null;
    } finally {
      this.pendingReads.delete(pending);
    }
  }

  /** Registers a gauge read at scrape time, keeping the failure counter last so that it is collected after the reads. */
  private addReadGauge(gauge: Gauge<string>): void {
    this.registry.registerMetric(gauge);
    this.registry.removeSingleMetric(COLLECT_FAILURES);
    this.registry.registerMetric(this.collectFailures);
  }

  /** Adds `shipdeck_tasks{state,type}`, counted by `count` (one database query) at every scrape. */
  watchTasks(count: () => Promise<readonly TaskCount[]>): void {
    const read = () => this.read('tasks', count);
    this.addReadGauge(
      new Gauge({
        name: 'shipdeck_tasks',
        help: 'Tasks in the database by state and type, counted at scrape time',
        labelNames: ['state', 'type'],
        registers: [],
        async collect() {
          const rows = await read();
          this.reset();
          for (const row of rows ?? []) this.set({ state: row.state, type: row.type }, row.count);
        },
      }),
    );
  }

  /** Adds `shipdeck_workers{state}`: the workers this master knows, by state, at every scrape. */
  watchWorkers(states: () => Promise<readonly string[]>): void {
    const read = () => this.read('workers', states);
    this.addReadGauge(
      new Gauge({
        name: 'shipdeck_workers',
        help: 'Workers this master knows, by state',
        labelNames: ['state'],
        registers: [],
        async collect() {
          const all = await read();
          this.reset();
          const counts = new Map<string, number>();
          for (const state of all ?? []) counts.set(state, (counts.get(state) ?? 0) + 1);
          for (const [state, n] of counts) this.set({ state }, n);
        },
      }),
    );
  }

  /** Adds the gauges of a worker runtime (capacity, running and ghost tasks) and its takeovers. */
  watchWorkerRuntime(read: () => WorkerRuntimeGauges): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, pick: (g: WorkerRuntimeGauges) => number) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(pick(read()));
        },
      });
    gauge('shipdeck_worker_capacity', 'The most tasks this worker holds at once (task.maxActiveTasks)', (g) => g.capacity);
    gauge('shipdeck_worker_running_tasks', 'Tasks executing on this worker now', (g) => g.running);
    gauge('shipdeck_worker_ghost_tasks', 'Tasks this worker holds that were removed from the monitor', (g) => g.ghosts);
    // The runtime keeps a running total; the counter follows it by the difference at each scrape.
    let seen = 0;
    new Counter({
      name: 'shipdeck_worker_takeovers_total',
      help: 'Tasks this worker adopted from workers that stopped renewing their leases',
      registers,
      collect() {
        const total = read().takeovers;
        if (total > seen) this.inc(total - seen);
        seen = Math.max(seen, total);
      },
    });
  }
}

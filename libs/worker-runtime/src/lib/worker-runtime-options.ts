import { ConfigError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { NO_METRICS, WorkerRuntimeMetrics } from '@shipdeck/metrics';
import { StepLogStore, TaskLeases, TaskRepository } from '@shipdeck/persistence';
import { TaskQueue } from '@shipdeck/queue';
import { StepExecutorLookup } from '@shipdeck/tasks';
import { Clock, systemClock } from './clock';

/** The roles of the task store a worker runtime uses. */
export type RuntimeTaskStore = Pick<TaskRepository, 'get' | 'insert' | 'compareAndSet' | 'statesOf'> & TaskLeases;

/** The states of a worker runtime; `CLOSED` is final. */
export type WorkerRuntimeState = 'NEW' | 'RUNNING' | 'DRAINING' | 'CLOSED';

/** Options of a worker runtime, as callers give them; {@link compileWorkerRuntimeOptions} fills in the rest. */
export interface WorkerRuntimeOptions {
  /** Stable id of this worker (kept in its work directory). */
  workerId: string;
  queue: TaskQueue;
  /** The task store (the roles a runtime uses) and the step log store. */
  stores: { tasks: RuntimeTaskStore; logs: StepLogStore };
  executors: StepExecutorLookup;
  /** `task.maxActiveTasks`: the most tasks held at once. A positive integer. */
  capacity: number;
  /** This worker's configuration hash; messages carrying another are not executed. */
  configHash: string;
  /** How long a claim is valid unless renewed. */
  leaseMs: number;
  /** Recovery files (`<workDir>/<taskId>.task`) and scratch space of steps. */
  workDir: string;
  logger: Logger;
  /**
   * Takeover (beyond the source model): adopt active tasks whose owner has not renewed its lease
   * for `afterMs`, with the interrupted step FAILED as in a restart recovery.
   * @default off
   */
  takeover?: { enabled: boolean; afterMs: number };
  /**
   * How often the leases of running tasks are renewed.
   * @default a third of `leaseMs`, between 200 ms and 5 s
   */
  leaseRenewIntervalMs?: number;
  /**
   * How often the states of running tasks are read back (one query for all), so that a stop or
   * abort requested through any master reaches this worker even when no command channel delivered it.
   * @default 1000
   */
  watchIntervalMs?: number;
  /**
   * How often running tasks are checkpointed to their recovery files between step transitions.
   * @default 2000
   */
  checkpointIntervalMs?: number;
  /**
   * How often held tasks that finished here are compared with the database (one query for all):
   * archived or cancelled ones are forgotten, removed ones become ghosts.
   * @default 5000
   */
  housekeepingIntervalMs?: number;
  /**
   * How long a database write of a running task is retried while the database is unreachable.
   * @default 600000 (10 minutes)
   */
  writeRetryMs?: number;
  /**
   * How long a worker waits before handing back a message whose task it could not claim (database down).
   * @default 1000
   */
  claimRetryDelayMs?: number;
  /**
   * The configuration hashes of the live masters this worker is connected to (what their
   * welcomes said). A message of another configuration is handed back when one of them has its
   * hash, and set aside when none has (spec §3).
   * @default only this worker's own hash (the in-process worker of the embedded default)
   */
  liveMasterHashes?: () => readonly string[];
  /**
   * How many times this worker hands back a message whose configuration hash no live master has
   * (stale from before an upgrade, or forged) before it drops it with a warning naming the task.
   * @default 3
   */
  setAsideHandBacks?: number;
  /**
   * How long a message of another configuration is held before it is handed back, so that a
   * queue holding messages no connected worker may execute does not make the broker and the
   * workers spin.
   * @default 1000
   */
  foreignHandBackDelayMs?: number;
  /**
   * How long `close()` waits for aborted steps to be recorded before it lets go.
   * @default 5000
   */
  closeGraceMs?: number;
  /**
   * How long step output is buffered before it is written to the step log store.
   * @default 250
   */
  stepLogFlushMs?: number;
  /**
   * The clock of leases, maintenance loops and delays.
   * @default the system clock
   */
  clock?: Clock;
  /**
   * Receives deliveries, hand-backs, claims, step ends and recoveries (the gauges are read from
   * {@link WorkerRuntime.stats} at scrape time).
   * @default none
   */
  metrics?: WorkerRuntimeMetrics;
  /** Called after every state change, e.g. to announce DRAINING to the masters at once. */
  onStateChange?: (state: WorkerRuntimeState, reason?: string) => void;
  /** Called once a drain (configuration mismatch, request) has finished every running task. */
  onDrained?: (reason: string) => void;
}

/** Options with every default applied; what the parts of a runtime read. */
export interface CompiledWorkerRuntimeOptions
  extends Required<Omit<WorkerRuntimeOptions, 'stores' | 'takeover' | 'onStateChange' | 'onDrained' | 'liveMasterHashes'>> {
  liveMasterHashes: () => readonly string[];
  tasks: RuntimeTaskStore;
  logs: StepLogStore;
  /** How long an owner must have stopped renewing before its tasks are adopted; null: no takeover. */
  takeoverAfterMs: number | null;
  /** How often expired leases are looked for (when takeover is on). */
  takeoverIntervalMs: number;
  onStateChange: (state: WorkerRuntimeState, reason?: string) => void;
  onDrained: (reason: string) => void;
}

/** Every default and unit conversion of a worker runtime's options, in one place. */
export function compileWorkerRuntimeOptions(options: WorkerRuntimeOptions): CompiledWorkerRuntimeOptions {
  if (!Number.isInteger(options.capacity) || options.capacity < 1) {
    throw new ConfigError(`worker runtime: capacity must be a positive integer (got ${options.capacity})`);
  }
  if (!(options.leaseMs > 0)) throw new ConfigError(`worker runtime: leaseMs must be positive (got ${options.leaseMs})`);
  const takeoverAfterMs = options.takeover?.enabled ? options.takeover.afterMs : null;
  return {
    workerId: options.workerId,
    queue: options.queue,
    tasks: options.stores.tasks,
    logs: options.stores.logs,
    executors: options.executors,
    capacity: options.capacity,
    configHash: options.configHash,
    leaseMs: options.leaseMs,
    workDir: options.workDir,
    logger: options.logger,
    takeoverAfterMs,
    takeoverIntervalMs: Math.max(500, Math.floor((takeoverAfterMs ?? 0) / 4)),
    leaseRenewIntervalMs: options.leaseRenewIntervalMs ?? Math.max(200, Math.min(5000, Math.floor(options.leaseMs / 3))),
    watchIntervalMs: options.watchIntervalMs ?? 1000,
    checkpointIntervalMs: options.checkpointIntervalMs ?? 2000,
    housekeepingIntervalMs: options.housekeepingIntervalMs ?? 5000,
    writeRetryMs: options.writeRetryMs ?? 10 * 60_000,
    claimRetryDelayMs: options.claimRetryDelayMs ?? 1000,
    liveMasterHashes: options.liveMasterHashes ?? (() => [options.configHash]),
    setAsideHandBacks: options.setAsideHandBacks ?? 3,
    foreignHandBackDelayMs: options.foreignHandBackDelayMs ?? 1000,
    closeGraceMs: options.closeGraceMs ?? 5000,
    stepLogFlushMs: options.stepLogFlushMs ?? 250,
    clock: options.clock ?? systemClock,
    metrics: options.metrics ?? NO_METRICS,
    onStateChange: options.onStateChange ?? (() => undefined),
    onDrained: options.onDrained ?? (() => undefined),
  };
}

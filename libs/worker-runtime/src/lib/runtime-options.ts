import { ShipdeckConfig } from '@shipdeck/config';
import { Logger } from '@shipdeck/logging';
import { StepLogStore, TaskStore } from '@shipdeck/persistence';
import { TaskQueue } from '@shipdeck/queue';
import { StepExecutorLookup } from '@shipdeck/tasks';
import { WorkerRuntimeOptions } from './worker-runtime';

/** The parts a process wires into its worker runtime; everything else comes from configuration. */
export interface WorkerRuntimeParts {
  workerId: string;
  workDir: string;
  queue: TaskQueue;
  stores: { tasks: TaskStore; logs: StepLogStore };
  executors: StepExecutorLookup;
  configHash: string;
  logger: Logger;
}

/**
 * The options of a worker runtime from the compiled configuration, in one place for the
 * in-process worker of a master and for an external worker.
 */
export function workerRuntimeOptions(config: ShipdeckConfig, parts: WorkerRuntimeParts): WorkerRuntimeOptions {
  return {
    workerId: parts.workerId,
    workDir: parts.workDir,
    queue: parts.queue,
    tasks: parts.stores.tasks,
    logs: parts.stores.logs,
    executors: parts.executors,
    configHash: parts.configHash,
    logger: parts.logger,
    capacity: config.task.maxActiveTasks,
    leaseMs: config.task.leaseDurationMs,
    takeover: { enabled: config.task.recovery.takeover === 'auto', afterMs: config.task.recovery.takeoverAfterMs },
  };
}

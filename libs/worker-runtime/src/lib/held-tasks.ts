import { isRetryable } from '@shipdeck/errors';
import { retryUntil } from '@shipdeck/lifecycle';
import { Logger } from '@shipdeck/logging';
import { TaskRecord } from '@shipdeck/tasks';
import { RecoveryFiles } from './recovery-files';
import type { TaskRun } from './task-run';
import { CompiledWorkerRuntimeOptions } from './worker-runtime-options';

/** A task this worker holds, as it reports it to masters. */
export interface HeldTask {
  id: string;
  type: TaskRecord['type'];
  state: TaskRecord['state'];
}

/**
 * The tasks a worker holds: the runs executing now, the tasks that finished executing here and
 * are not archived or cancelled yet (their recovery files remain), and which of them are ghosts
 * (removed from the monitor while held).
 */
export class HeldTasks {
  readonly running = new Map<string, TaskRun>();
  readonly finished = new Map<string, TaskRecord>();
  readonly ghosts = new Set<string>();

  /** The task as this worker knows it, running or finished. */
  recordOf(id: string): TaskRecord | undefined {
    return this.running.get(id)?.task ?? this.finished.get(id);
  }

  /** Every held task that is not a ghost. */
  view(): HeldTask[] {
    const all = [...this.finished.values(), ...[...this.running.values()].map((run) => run.task)];
    return all.filter((t) => !this.ghosts.has(t.id)).map((t) => ({ id: t.id, type: t.type, state: t.state }));
  }
}

/** What the parts of one worker runtime share. */
export interface RuntimeContext {
  readonly options: CompiledWorkerRuntimeOptions;
  /** The runtime's logger (with its worker id). */
  readonly logger: Logger;
  readonly files: RecoveryFiles;
  readonly held: HeldTasks;
}

/** Runs a database write of a held task, retrying while the database is unreachable. */
export function retryWrite<T>(context: RuntimeContext, what: string, write: () => Promise<T>): Promise<T> {
  return retryUntil(what, write, { timeoutMs: context.options.writeRetryMs, logger: context.logger, retryable: isRetryable });
}

/** Now on the runtime's clock, as an ISO time. */
export function nowIso(context: RuntimeContext): string {
  return new Date(context.options.clock.now()).toISOString();
}

/** A lease from now on the runtime's clock. */
export function leaseFromNow(context: RuntimeContext): Date {
  return new Date(context.options.clock.now() + context.options.leaseMs);
}

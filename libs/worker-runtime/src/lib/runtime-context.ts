import { isRetryable } from '@shipdeck/errors';
import { retryUntil } from '@shipdeck/lifecycle';
import { Logger } from '@shipdeck/logging';
import { HeldTasks } from './held-tasks';
import { RecoveryFiles } from './recovery-files';
import { CompiledWorkerRuntimeOptions } from './worker-runtime-options';

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

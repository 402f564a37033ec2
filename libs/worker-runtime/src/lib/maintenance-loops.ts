import { taskLogger } from '@shipdeck/logging';
import { FINAL_STATES, isActive } from '@shipdeck/tasks';
import { Cancel } from './clock';
import { RuntimeContext, leaseFromNow } from './runtime-context';
import { TaskRecovery } from './task-recovery';

/**
 * The periodic work of a worker runtime: lease renewal, the watch for stop and abort requests,
 * recovery-file checkpoints, housekeeping of finished tasks, and takeover of expired leases.
 * Each pass reads or writes the database once for all the tasks it covers, however many there are.
 */
export class MaintenanceLoops {
  private readonly cancels: Cancel[] = [];
  private takeoverCount = 0;

  constructor(
    private readonly context: RuntimeContext,
    private readonly recovery: TaskRecovery,
    /** Whether the runtime still takes tasks (takeover adopts only then). */
    private readonly takingTasks: () => boolean,
  ) {}

  /** Tasks adopted from workers whose lease expired. */
  get takeovers(): number {
    return this.takeoverCount;
  }

  start(): void {
    const { options } = this.context;
    this.every(options.leaseRenewIntervalMs, () => this.renewLeases());
    this.every(options.watchIntervalMs, () => this.watchRequests());
    this.every(options.checkpointIntervalMs, () => this.checkpoint());
    this.every(options.housekeepingIntervalMs, () => this.housekeeping());
    const afterMs = options.takeoverAfterMs;
    if (afterMs !== null) this.every(options.takeoverIntervalMs, () => this.adoptOrphans(afterMs));
  }

  stop(): void {
    for (const cancel of this.cancels.splice(0)) cancel();
  }

  /** Runs `work` every `ms`; a tick that finds the previous pass still busy skips. */
  private every(ms: number, work: () => Promise<void>): void {
    let busy: Promise<void> | undefined;
    this.cancels.push(this.context.options.clock.every(ms, () => (busy ??= work().finally(() => (busy = undefined)))));
  }

  private async renewLeases(): Promise<void> {
    const { options, held } = this.context;
    const ids = [...held.running.keys()];
    if (ids.length === 0) return;
    try {
      const owned = new Set(await options.tasks.renewLeases(options.workerId, ids, leaseFromNow(this.context)));
      for (const id of ids) {
        const run = held.running.get(id);
        if (run && !owned.has(id)) await run.noLongerOwned();
      }
    } catch (error) {
      this.context.logger.warn('could not renew task leases; retrying at the next tick', { error: String(error) });
    }
  }

  /** Applies stop and abort requests found in the database to the running executions. */
  private async watchRequests(): Promise<void> {
    const { options, held } = this.context;
    const ids = [...held.running.keys()];
    if (ids.length === 0) return;
    try {
      for (const current of await options.tasks.statesOf(ids)) held.running.get(current.id)?.applyState(current.state);
    } catch (error) {
      this.context.logger.debug('could not read the states of running tasks; trying again at the next tick', { error: String(error) });
    }
  }

  private async checkpoint(): Promise<void> {
    for (const run of [...this.context.held.running.values()]) await run.checkpoint();
  }

  /** Forgets held tasks that were archived, cancelled or taken elsewhere; spots ghosts. */
  private async housekeeping(): Promise<void> {
    const { options, held, files } = this.context;
    const ids = [...held.finished.keys()];
    if (ids.length === 0) return;
    let states;
    try {
      states = new Map((await options.tasks.statesOf(ids)).map((s) => [s.id, s]));
    } catch (error) {
      this.context.logger.debug('housekeeping could not read the held tasks', { error: String(error) });
      return;
    }
    for (const id of ids) {
      const known = held.finished.get(id);
      if (!known) continue;
      const current = states.get(id);
      if (current === undefined) {
        if (!held.ghosts.has(id)) taskLogger(this.context.logger, id).warn('held task was removed from the monitor: it is a ghost task here');
        held.ghosts.add(id);
        continue;
      }
      held.ghosts.delete(id);
      if (current.workerId !== options.workerId || FINAL_STATES.includes(current.state)) {
        held.finished.delete(id);
        await files.remove(id);
        continue;
      }
      // Active with nothing executing it here, or changed meanwhile (both rare): read the whole task.
      if (!(isActive(current.state) && !held.running.has(id)) && current.state === known.state) continue;
      try {
        const task = await options.tasks.get(id);
        if (!task) continue;
        if (isActive(task.state) && !held.running.has(id)) {
          // A run that broke down (e.g. the database stayed away longer than writes are retried)
          // left the task active with nothing executing it: end it as a restart would.
          await this.recovery.recoverActive(task, task.plan);
        } else {
          held.finished.set(id, task);
        }
      } catch (error) {
        this.context.logger.debug('housekeeping could not read a held task', { taskId: id, error: String(error) });
      }
    }
  }

  /** Takeover: adopts active tasks whose owner stopped renewing its lease long enough ago. */
  private async adoptOrphans(afterMs: number): Promise<void> {
    const { options } = this.context;
    if (!this.takingTasks()) return;
    try {
      for (const orphan of await options.tasks.leaseExpiredBefore(new Date(options.clock.now() - afterMs))) {
        if (!orphan.workerId || !orphan.leaseUntil || orphan.workerId === options.workerId) continue;
        const adopted = await options.tasks.adopt(
          orphan.id,
          { workerId: orphan.workerId, leaseUntil: orphan.leaseUntil },
          options.workerId,
          leaseFromNow(this.context),
        );
        if (!adopted) continue;
        this.takeoverCount++;
        taskLogger(this.context.logger, orphan.id).warn(`took over task from worker ${orphan.workerId}, whose lease expired at ${orphan.leaseUntil}`);
        await this.recovery.recoverActive(adopted, adopted.plan);
      }
    } catch (error) {
      this.context.logger.warn('takeover pass failed; trying again at the next one', { error: String(error) });
    }
  }
}

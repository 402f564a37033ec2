import { Logger } from '@shipdeck/logging';
import { TaskStore } from '@shipdeck/persistence';
import { advanceTask } from '@shipdeck/tasks';
import { TaskAnnouncer } from './task-announcer';

/** What a {@link Reconciler} needs, and how often it looks. */
export interface ReconcilerOptions {
  tasks: TaskStore;
  announcer: TaskAnnouncer;
  logger: Logger;
  /** How often to look. */
  intervalMs: number;
  /** A QUEUED task unclaimed for this long is published again. */
  republishAfterMs: number;
  /**
   * Whether this master's configuration is current: some live worker shares its configuration
   * hash and takes tasks (always, with the in-process worker). Only such a master republishes
   * (spec §3, issue 17): a message it publishes carries a hash that a worker will take, so a task
   * whose message was set aside (stale from before an upgrade, or forged) runs once, under the
   * current configuration. Default: always.
   */
  isCurrent?: () => boolean;
  /** The clock (tests). Default: the system clock. */
  now?: () => Date;
}

/**
 * The master's safety net for the queue: promotes due SCHEDULED tasks to QUEUED, and publishes
 * again every task that stayed QUEUED without a claim (a crash between commit and publish, a lost
 * message, an in-process queue emptied by a restart, a message that workers set aside because no
 * live master has its configuration hash). The claim makes the duplicates harmless. Republishing
 * is left to masters whose configuration is current (see {@link ReconcilerOptions.isCurrent}).
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** The last pass left republishing to other masters (logged once per stretch). */
  private skipping = false;

  constructor(private readonly options: ReconcilerOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs);
    this.timer.unref();
  }

  /** One pass; `republishBefore` overrides the staleness cut-off (at start-up: everything queued). */
  tick(republishBefore?: Date): Promise<void> {
    this.running ??= this.pass(republishBefore).finally(() => (this.running = undefined));
    return this.running;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  private async pass(republishBefore?: Date): Promise<void> {
    const { tasks, announcer, logger } = this.options;
    const now = this.options.now ?? (() => new Date());
    try {
      for (const due of await tasks.scheduledDue(now())) {
        const queued = await advanceTask(tasks, due.id, 'due', (c) => ({
          attempt: c.attempt + 1,
          queuedAt: now().toISOString(),
        })).catch(() => null);
        if (queued) {
          logger.info('scheduled task is due: queued', { taskId: due.id });
          await announcer.announce(queued);
        }
      }
      if (!(this.options.isCurrent?.() ?? true)) {
        // Another master, whose configuration the live workers share, republishes these.
        if (!this.skipping) logger.info("no live worker shares this master's configuration: leaving the republishing of queued tasks to masters it has");
        this.skipping = true;
        return;
      }
      // Current again (a worker of this configuration connected): what this master held back
      // while it was not, or what other configurations left behind, is published now, not a
      // reconcile period later.
      const becameCurrent = this.skipping;
      this.skipping = false;
      if (becameCurrent) logger.info("a live worker shares this master's configuration: publishing every queued task");
      const cutoff = republishBefore ?? new Date(now().getTime() + (becameCurrent ? 1 : -this.options.republishAfterMs));
      for (const stale of await tasks.queuedBefore(cutoff)) {
        // Touch the task so that it is not republished again at every pass while no worker takes it.
        const touched = await tasks.compareAndSet(stale.id, 'QUEUED', { state: 'QUEUED' });
        if (!touched) continue;
        logger.info('task still queued without a claim: publishing it again', { taskId: stale.id });
        announcer.metrics.reconcilerRepublished();
        await announcer.announce(touched);
      }
    } catch (error) {
      logger.warn('reconciler pass failed; trying again at the next one', { error: String(error) });
    }
  }
}

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
}

/**
 * The master's safety net for the queue: promotes due SCHEDULED tasks to QUEUED, and publishes
 * again every task that stayed QUEUED without a claim (a crash between commit and publish, a lost
 * message, an in-process queue emptied by a restart). The claim makes the duplicates harmless.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

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
    try {
      for (const due of await tasks.scheduledDue(new Date())) {
        const queued = await advanceTask(tasks, due.id, 'due', (c) => ({
          attempt: c.attempt + 1,
          queuedAt: new Date().toISOString(),
        })).catch(() => null);
        if (queued) {
          logger.info('scheduled task is due: queued', { taskId: due.id });
          await announcer.announce(queued);
        }
      }
      const cutoff = republishBefore ?? new Date(Date.now() - this.options.republishAfterMs);
      for (const stale of await tasks.queuedBefore(cutoff)) {
        // Touch the task so that it is not republished again at every pass while no worker takes it.
        const touched = await tasks.compareAndSet(stale.id, 'QUEUED', { state: 'QUEUED' });
        if (!touched) continue;
        logger.info('task still queued without a claim: publishing it again', { taskId: stale.id });
        await announcer.announce(touched);
      }
    } catch (error) {
      logger.warn('reconciler pass failed; trying again at the next one', { error: String(error) });
    }
  }
}

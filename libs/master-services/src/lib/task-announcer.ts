import { Logger } from '@shipdeck/logging';
import { NO_METRICS, TaskMessageMetrics } from '@shipdeck/metrics';
import { TASK_MESSAGE_VERSION, TaskQueue } from '@shipdeck/queue';
import { TaskRecord } from '@shipdeck/tasks';

/**
 * Publishes "this task is queued" messages stamped with the master's id and configuration hash.
 * `isCurrent` (default: always) says whether a live worker shares this master's configuration;
 * while none does, nothing is published: a message no connected worker may execute would only
 * circulate (spec §3). The task stays QUEUED, and the reconciler publishes it once a worker of
 * this configuration is there.
 */
export class TaskAnnouncer {
  private holding = false;
  /** Requests answered without waiting for the broker since it was last connected (logged once per outage). */
  private answeredUnsent = 0;

  constructor(
    private readonly queue: TaskQueue,
    private readonly masterId: string,
    private readonly configHash: string,
    private readonly logger: Logger,
    private readonly isCurrent: () => boolean = () => true,
    /** Counts every publication; none by default. */
    readonly metrics: TaskMessageMetrics = NO_METRICS,
  ) {}

  /** Resolves when the queue can take messages (readiness). */
  checkReady(): Promise<void> {
    return this.queue.checkReady();
  }

  /**
   * {@link announce} for a client's request (create with `start`, start): while the broker is
   * disconnected, the request is answered at once instead of waiting up to the publish timeout.
   * The task is committed QUEUED either way; its message waits in the queue's outbox and goes out
   * when the broker is back (or, should that fail, the reconciler publishes it again).
   */
  async announceForRequest(task: TaskRecord): Promise<void> {
    const sending = this.announce(task);
    const connected = await this.queue.checkReady().then(
      () => true,
      () => false,
    );
    if (connected) {
      this.answeredUnsent = 0;
      await sending;
      return;
    }
    if (this.answeredUnsent++ === 0) {
      this.logger.warn('the message broker is not connected: started tasks are answered QUEUED now and published when it is back', {
        taskId: task.id,
      });
    }
  }

  /**
   * Publishes the message of a task that is already committed as QUEUED. A failure is logged, not
   * thrown: the task stays QUEUED and the reconciler publishes it again.
   */
  async announce(task: TaskRecord): Promise<boolean> {
    if (!this.isCurrent()) {
      if (!this.holding) {
        this.logger.info("no live worker shares this master's configuration: queued tasks wait unpublished until one connects", {
          taskId: task.id,
        });
      }
      this.holding = true;
      return false;
    }
    this.holding = false;
    try {
      await this.queue.publish({
        version: TASK_MESSAGE_VERSION,
        taskId: task.id,
        taskType: task.type,
        configHash: this.configHash,
        publishedBy: this.masterId,
        publishedAt: new Date().toISOString(),
      });
      this.metrics.taskMessagePublished('published');
      return true;
    } catch (error) {
      this.metrics.taskMessagePublished('failed');
      this.logger.warn('could not publish task message; the reconciler will publish it again', {
        taskId: task.id,
        error: String(error),
      });
      return false;
    }
  }
}

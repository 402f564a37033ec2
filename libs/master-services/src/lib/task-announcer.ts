import { Logger } from '@shipdeck/logging';
import { NO_METRICS, TaskMessageMetrics } from '@shipdeck/metrics';
import { TASK_MESSAGE_VERSION, TaskQueue } from '@shipdeck/queue';
import { TaskRecord } from '@shipdeck/tasks';

/** Publishes "this task is queued" messages stamped with the master's id and configuration hash. */
export class TaskAnnouncer {
  constructor(
    private readonly queue: TaskQueue,
    private readonly masterId: string,
    private readonly configHash: string,
    private readonly logger: Logger,
    /** Counts every publication; none by default. */
    readonly metrics: TaskMessageMetrics = NO_METRICS,
  ) {}

  /** Resolves when the queue can take messages (readiness). */
  checkReady(): Promise<void> {
    return this.queue.checkReady();
  }

  /**
   * Publishes the message of a task that is already committed as QUEUED. A failure is logged, not
   * thrown: the task stays QUEUED and the reconciler publishes it again.
   */
  async announce(task: TaskRecord): Promise<boolean> {
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

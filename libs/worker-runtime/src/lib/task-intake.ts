import { Delivery, TASK_MESSAGE_VERSION } from '@shipdeck/queue';
import { TaskRecord } from '@shipdeck/tasks';
import { sleep } from './clock';
import { RuntimeContext, leaseFromNow } from './runtime-context';

/** What the intake needs of the runtime it feeds. */
export interface IntakeTarget {
  /** Whether the runtime takes tasks now (RUNNING). */
  takingTasks(): boolean;
  /** Stops taking tasks for good, e.g. on a configuration mismatch. */
  drain(reason: string): Promise<void>;
  /** Executes a claimed task; resolves when its run has ended. */
  execute(task: TaskRecord): Promise<void>;
}

/**
 * Intake of task messages: checks each message, claims its task in the database, and only then
 * accepts the delivery. Ownership after the claim lives in the database (a lease), never in an
 * unsettled delivery, and a delivery whose task is not claimed yet goes back to the broker when
 * the worker dies.
 */
export class TaskIntake {
  constructor(
    private readonly context: RuntimeContext,
    private readonly target: IntakeTarget,
  ) {}

  /** Handles one delivery; resolves when the task it started has finished executing here. */
  async handle(delivery: Delivery): Promise<void> {
    const { options, logger } = this.context;
    const { message } = delivery;
    if (message.version !== TASK_MESSAGE_VERSION) {
      logger.error('dropping task message of unknown version', { taskId: message.taskId, version: message.version });
      await delivery.accept();
      return;
    }
    if (message.configHash !== options.configHash) {
      await delivery.handBack();
      const reason =
        `configuration mismatch: task ${message.taskId} from master ${message.publishedBy} carries config hash ` +
        `${message.configHash.slice(0, 12)}, this worker has ${options.configHash.slice(0, 12)}; ` +
        'synchronize conf/, plugins/ and ext/ with the masters and restart this worker';
      void this.target.drain(reason);
      return;
    }
    if (!this.target.takingTasks()) {
      await delivery.handBack();
      return;
    }
    let task: TaskRecord | null;
    try {
      task = await options.tasks.claim(message.taskId, options.workerId, leaseFromNow(this.context));
    } catch (error) {
      // The database is unreachable: give the message back (after a pause, not to spin) for later.
      logger.warn('could not claim task; handing its message back', { taskId: message.taskId, error: String(error) });
      await sleep(options.clock, options.claimRetryDelayMs);
      await delivery.handBack();
      return;
    }
    // Accept either way: a lost claim means another worker has it, or it was cancelled, or this
    // is a duplicate message; the database is the truth.
    await delivery.accept();
    if (!task) {
      logger.debug('task message without a claimable task, dropped', { taskId: message.taskId });
      return;
    }
    this.context.held.finished.delete(task.id);
    await this.target.execute(task);
  }
}

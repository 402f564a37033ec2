import { Delivery, TASK_MESSAGE_VERSION } from '@shipdeck/queue';
import { TaskRecord } from '@shipdeck/tasks';
import { sleep } from './clock';
import { HandBackCounter, classifyForeignHash } from './config-compatibility';
import { RuntimeContext, leaseFromNow } from './runtime-context';

/** What the intake needs of the runtime it feeds. */
export interface IntakeTarget {
  /** Whether the runtime takes tasks now (RUNNING). */
  takingTasks(): boolean;
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
  private readonly handBacks = new HandBackCounter();

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
      await this.otherConfiguration(delivery);
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
    // Which master's message (and configuration) this execution answers: what an upgrade's audit reads.
    logger.info(`claimed task ${task.id} from the message of ${message.publishedBy}`, {
      taskId: task.id,
      publishedBy: message.publishedBy,
      configHash: message.configHash,
    });
    this.context.held.finished.delete(task.id);
    await this.target.execute(task);
  }

  /**
   * A message of another configuration is never executed here and never makes this worker drain
   * (spec §3): one a live master published goes back for a worker of that configuration; one
   * whose hash no live master has is handed back a few times (a master may just be coming back)
   * and then dropped. Each hand back waits first, so that messages nobody here may take do not spin.
   */
  private async otherConfiguration(delivery: Delivery): Promise<void> {
    const { options, logger } = this.context;
    const { message } = delivery;
    const kind = classifyForeignHash(message.configHash, options.liveMasterHashes());
    const seen = this.handBacks.seen(message.taskId, message.publishedAt, message.configHash);
    const about = { taskId: message.taskId, configHash: message.configHash, publishedBy: message.publishedBy, deliveries: seen };
    if (kind === 'stale' && seen > options.setAsideHandBacks) {
      logger.warn(
        `task message set aside: task ${message.taskId} was published by ${message.publishedBy} with configuration hash ` +
          `${message.configHash.slice(0, 12)}, which no live master has (stale from before an upgrade, or forged); ` +
          'dropped unexecuted. A master with the current configuration publishes the task again if it is still QUEUED',
        about,
      );
      await delivery.accept();
      return;
    }
    logger.debug(
      kind === 'foreign'
        ? 'task message of another live master\'s configuration: handing it back for a worker of that configuration'
        : 'task message of a configuration no live master has: handing it back',
      about,
    );
    await sleep(options.clock, options.foreignHandBackDelayMs);
    await delivery.handBack();
  }
}

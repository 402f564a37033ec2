import { isRetryable } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { StepLogStore } from '@shipdeck/persistence';
import { Cancel, Clock, systemClock } from './clock';

/** How soon a step log write that failed for a retryable reason is tried again. */
const RETRY_MS = 1000;

/**
 * Buffers step output and writes it to the step log store in order, in chunks, so that a chatty
 * command does not cost one database write per line. `flush` writes what is buffered and waits
 * for every earlier write.
 */
export class StepLogWriter {
  /**
   * Text not stored yet, per step path, in the order it was written. A chunk leaves only once
   * stored: text written while the database is away queues behind it, so each step's log keeps
   * its order through an outage.
   */
  private readonly pending = new Map<string, string[]>();
  private chain: Promise<void> = Promise.resolve();
  private timer: Cancel | undefined;

  constructor(
    private readonly store: StepLogStore,
    private readonly taskId: string,
    private readonly logger: Logger,
    private readonly flushEveryMs = 250,
    private readonly clock: Clock = systemClock,
  ) {}

  write(path: string, text: string): void {
    const chunks = this.pending.get(path) ?? [];
    chunks.push(text);
    this.pending.set(path, chunks);
    this.timer ??= this.clock.after(this.flushEveryMs, () => void this.flush());
  }

  flush(): Promise<void> {
    this.timer?.();
    this.timer = undefined;
    // One write at a time: a write that fails is tried again before anything written after it.
    this.chain = this.chain.then(() => this.writePending());
    return this.chain;
  }

  private async writePending(): Promise<void> {
    for (const [path, chunks] of [...this.pending.entries()]) {
      const count = chunks.length;
      try {
        await this.store.append(this.taskId, path, chunks.join(''));
      } catch (error) {
        if (isRetryable(error)) {
          // The database is away: the text stays first in line for the next flush.
          this.timer ??= this.clock.after(RETRY_MS, () => void this.flush());
          this.logger.warn('could not write step log yet; keeping it for later', { taskId: this.taskId, stepPath: path });
          continue;
        }
        this.logger.error('could not write step log', { taskId: this.taskId, stepPath: path, error: String(error) });
      }
      // Text written during the await was pushed behind the chunks just handled.
      chunks.splice(0, count);
      if (chunks.length === 0) this.pending.delete(path);
    }
  }
}

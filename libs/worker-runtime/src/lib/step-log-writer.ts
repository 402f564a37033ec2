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
  private readonly buffers = new Map<string, string[]>();
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
    const buffer = this.buffers.get(path) ?? [];
    buffer.push(text);
    this.buffers.set(path, buffer);
    this.timer ??= this.clock.after(this.flushEveryMs, () => void this.flush());
  }

  flush(): Promise<void> {
    this.timer?.();
    this.timer = undefined;
    const entries = [...this.buffers.entries()];
    this.buffers.clear();
    for (const [path, chunks] of entries) {
      const text = chunks.join('');
      this.chain = this.chain.then(() =>
        this.store.append(this.taskId, path, text).catch((error: unknown) => {
          if (isRetryable(error)) {
            // The database is away: keep the text, in order, for the next flush.
            this.buffers.set(path, [text, ...(this.buffers.get(path) ?? [])]);
            this.timer ??= this.clock.after(RETRY_MS, () => void this.flush());
            this.logger.warn('could not write step log yet; keeping it for later', { taskId: this.taskId, stepPath: path });
            return;
          }
          this.logger.error('could not write step log', { taskId: this.taskId, stepPath: path, error: String(error) });
        }),
      );
    }
    return this.chain;
  }
}

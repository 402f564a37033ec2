import { isRetryable } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { backoffDelayMs } from './backoff';

export interface RetryOptions {
  /** Give up after this long and throw the last error. */
  timeoutMs: number;
  logger: Pick<Logger, 'warn'>;
  /** Which errors are worth another attempt; default: those `isRetryable` recognizes. */
  retryable?: (error: unknown) => boolean;
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Runs `attempt` until it succeeds, with exponential backoff, while its errors are retryable and
 * the time-out has not passed; logs each retry saying what it waits for.
 */
export async function retryUntil<T>(what: string, attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  const retryable = options.retryable ?? isRetryable;
  const backoff = { initialDelayMs: options.initialDelayMs ?? 250, maxDelayMs: options.maxDelayMs ?? 5000 };
  for (let retry = 0; ; retry++) {
    const delay = backoffDelayMs(retry, backoff);
    try {
      return await attempt();
    } catch (error) {
      if (!retryable(error) || Date.now() + delay > deadline) throw error;
      options.logger.warn(`waiting for ${what}: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

import { isRetryable } from '@shipdeck/errors';

interface RetryLogger {
  warn(message: string, meta?: Record<string, unknown>): unknown;
}

export interface RetryOptions {
  /** Give up after this long and throw the last error. */
  timeoutMs: number;
  logger: RetryLogger;
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
  let delay = options.initialDelayMs ?? 250;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (!retryable(error) || Date.now() + delay > deadline) throw error;
      options.logger.warn(`waiting for ${what}: ${error instanceof Error ? error.message : String(error)}`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, options.maxDelayMs ?? 5000);
    }
  }
}

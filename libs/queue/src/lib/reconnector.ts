import { backoffDelayMs } from '@shipdeck/lifecycle';
import type { LevelLogger } from '@shipdeck/logging';
import type { QueueMetrics } from '@shipdeck/metrics';

/**
 * Jitter of the reconnect backoff (see `backoffDelayMs` of @shipdeck/lifecycle): each wait is
 * drawn in [50 %, 100 %] of the nominal one, so that many workers cut off together do not
 * reconnect in lockstep.
 */
export const RECONNECT_JITTER = [0.5, 1] as const;

/** What a {@link Reconnector} needs from the adapter whose connection it re-makes. */
export interface ReconnectorOptions<C> {
  /** Opens a new connection (rejects when the broker cannot be reached). */
  connect(): Promise<C>;
  /** Whether the adapter still waits for a connection (false once it closes). */
  wanted(): boolean;
  /** Takes a new connection into use. */
  install(connection: C): void;
  /** Closes a connection that arrived after the adapter stopped wanting one. */
  discard(connection: C): Promise<void>;
  initialDelayMs: number;
  maxDelayMs: number;
  logger: LevelLogger;
  /** Told of every reconnect that succeeded. */
  metrics: QueueMetrics;
  /** A failed attempt's error, for the log. */
  describe(error: unknown): string;
}

/**
 * Re-makes a broker connection after it dropped: attempts spaced by backoff with jitter, each
 * failure logged and followed by the next attempt, until one succeeds or the adapter closes.
 * One per adapter (AMQP and STOMP share it).
 */
export class Reconnector<C> {
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private attempt?: Promise<void>;

  constructor(private readonly options: ReconnectorOptions<C>) {}

  /** How many attempts were made since the connection was last up. */
  get attempts(): number {
    return this.failures;
  }

  /** The connection is up again: the next drop starts from the shortest delay. */
  reset(): void {
    this.failures = 0;
  }

  /** Schedules the next attempt. */
  schedule(): void {
    const { options } = this;
    const delay = backoffDelayMs(this.failures, {
      initialDelayMs: options.initialDelayMs,
      maxDelayMs: options.maxDelayMs,
      jitter: RECONNECT_JITTER,
    });
    this.failures++;
    options.logger.info(`reconnecting in ${delay} ms`, { attempt: this.failures });
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.attempt = options.connect().then(
        async (connection) => {
          this.attempt = undefined;
          if (!options.wanted()) return options.discard(connection);
          options.install(connection);
          options.metrics.brokerReconnected();
        },
        (error: unknown) => {
          this.attempt = undefined;
          if (!options.wanted()) return;
          options.logger.warn('reconnect attempt failed', { attempt: this.failures, error: options.describe(error) });
          this.schedule();
        },
      );
    }, delay);
  }

  /** Stops: no further attempt starts, and the one under way (if any) has ended. */
  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.attempt;
  }
}

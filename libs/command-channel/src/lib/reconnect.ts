/** Backoff between a worker's attempts to reach one master (see `CommandChannelClientOptions.reconnect`). */
export interface ReconnectBackoff {
  initialDelayMs: number;
  maxDelayMs: number;
}

/** The client's reconnect delays are drawn within ±20 % of the nominal one (see `backoffDelayMs` of @shipdeck/lifecycle). */
export const RECONNECT_JITTER = [0.8, 1.2] as const;
const DEFAULT_INITIAL_MS = 500;
const DEFAULT_MAX_MS = 10_000;

/**
 * The reconnect backoff of a worker whose masters count it DISCONNECTED (its tasks UNKNOWN) after
 * `gracePeriodMs` (`worker.gracePeriod`, the same on every process of a cluster) without a word.
 * A restarted master has never heard of the worker: the worker must retry it often enough to
 * register well within that grace period, or the master shows live tasks as UNKNOWN. The longest
 * wait, jitter included, is a third of the grace period (and never more than the default 10 s).
 */
export function reconnectBackoffWithin(gracePeriodMs: number): ReconnectBackoff {
  const maxDelayMs = Math.max(50, Math.min(DEFAULT_MAX_MS, Math.floor(gracePeriodMs / 3 / RECONNECT_JITTER[1])));
  return { initialDelayMs: Math.min(DEFAULT_INITIAL_MS, maxDelayMs), maxDelayMs };
}

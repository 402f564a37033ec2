import { ConfigError } from '@shipdeck/errors';
import { LevelLogger, redactUrl } from '@shipdeck/logging';
import { NO_METRICS, QueueMetrics } from '@shipdeck/metrics';

/** The options every broker adapter (AMQP 1.0, STOMP) takes; each adds its own. */
export interface BrokerTaskQueueOptions {
  /** The broker's URL (`task.queue.url`); the adapter documents its schemes and default ports. */
  url: string;
  /** The shared task queue (`task.queue.name`). */
  queueName: string;
  logger: LevelLogger;
  /** Where reconnects and redeliveries are counted; none when absent. */
  metrics?: QueueMetrics;
  /** Backoff between reconnect attempts: doubles from `initialDelayMs` up to `maxDelayMs`. Defaults 200 ms, 30 s. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /**
   * The longest `publish()` waits for the broker to confirm a message, including the time spent
   * waiting for a reconnect; then it rejects with a retryable error. Default 30 s.
   */
  publishTimeoutMs?: number;
  /** The longest one connection attempt (TCP, TLS, the protocol's handshake) may take. Default 10 s. */
  connectTimeoutMs?: number;
  /** The longest a close (connection, link, subscription) waits for the broker's answer. Default 5 s. */
  closeTimeoutMs?: number;
}

/** {@link BrokerTaskQueueOptions} with every default applied and every value checked. */
export interface CompiledBrokerOptions {
  endpoint: { readonly redactedUrl: string };
  queueName: string;
  logger: LevelLogger;
  metrics: QueueMetrics;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
}

/** The default of every optional {@link BrokerTaskQueueOptions} value, under its compiled name. */
export const BROKER_DEFAULTS = {
  reconnectInitialDelayMs: 200,
  reconnectMaxDelayMs: 30_000,
  publishTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 5_000,
} as const;

/**
 * Applies the defaults of the options every adapter shares and validates them; a bad value
 * raises a {@link ConfigError} naming the option. `protocol` names the adapter in messages.
 */
export function compileBrokerOptions<E extends { readonly redactedUrl: string }>(
  protocol: string,
  options: BrokerTaskQueueOptions,
  endpoint: E,
): CompiledBrokerOptions & { endpoint: E } {
  if (typeof options.queueName !== 'string' || options.queueName.trim() === '') {
    throw new ConfigError(`the ${protocol} task queue needs a queue name`, [{ field: 'queueName', message: 'must be a non-empty string' }]);
  }
  const compiled = {
    endpoint,
    queueName: options.queueName,
    logger: options.logger,
    metrics: options.metrics ?? NO_METRICS,
    reconnectInitialDelayMs: positiveMs('reconnect.initialDelayMs', options.reconnect?.initialDelayMs, BROKER_DEFAULTS.reconnectInitialDelayMs),
    reconnectMaxDelayMs: positiveMs('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, BROKER_DEFAULTS.reconnectMaxDelayMs),
    publishTimeoutMs: positiveMs('publishTimeoutMs', options.publishTimeoutMs, BROKER_DEFAULTS.publishTimeoutMs),
    connectTimeoutMs: positiveMs('connectTimeoutMs', options.connectTimeoutMs, BROKER_DEFAULTS.connectTimeoutMs),
    closeTimeoutMs: positiveMs('closeTimeoutMs', options.closeTimeoutMs, BROKER_DEFAULTS.closeTimeoutMs),
  };
  if (compiled.reconnectMaxDelayMs < compiled.reconnectInitialDelayMs) {
    throw new ConfigError('reconnect.maxDelayMs is smaller than reconnect.initialDelayMs', [
      { field: 'reconnect.maxDelayMs', message: `must be at least ${compiled.reconnectInitialDelayMs}` },
    ]);
  }
  return compiled;
}

/** `value`, or `fallback` when absent; anything but a positive number raises a {@link ConfigError}. */
export function positiveMs(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${field} must be a positive number of milliseconds`, [{ field, message: `got ${String(value)}` }]);
  }
  return value;
}

/** What every broker URL holds, taken apart once. */
export interface BrokerUrl {
  readonly parsed: URL;
  /** The scheme without its colon, e.g. `amqps`. */
  readonly scheme: string;
  readonly host: string;
  readonly username?: string;
  readonly password?: string;
  /** The URL without its password, for log lines and error messages. */
  readonly redactedUrl: string;
}

/**
 * Takes a broker URL apart (credentials decoded, IPv6 brackets removed, `localhost` for an
 * empty host). A malformed URL or a scheme not in `schemes` raises a {@link ConfigError};
 * `protocol` and `example` word its message.
 */
export function parseBrokerUrl(url: string, protocol: string, schemes: readonly string[], example: string): BrokerUrl {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`invalid ${protocol} URL "${url}"`, [{ field: 'url', message: `must look like ${example}` }]);
  }
  const scheme = parsed.protocol.replace(/:$/, '');
  if (!schemes.includes(scheme)) {
    throw new ConfigError(`unsupported ${protocol} URL scheme "${parsed.protocol}"`, [
      { field: 'url', message: `must start with ${schemes.map((name) => `${name}://`).join(' or ')}` },
    ]);
  }
  return {
    parsed,
    scheme,
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    redactedUrl: redactUrl(parsed.href),
  };
}

import { ConfigError } from '@shipdeck/errors';
import type { LevelLogger } from '@shipdeck/logging';
import { NO_METRICS, QueueMetrics } from '@shipdeck/metrics';

/** Options of {@link createStompTaskQueue}. */
export interface StompTaskQueueOptions {
  /**
   * `stomp://user:password@host:port` or `stomp+ssl://…` (`task.queue.url`). Default port 61613.
   * Artemis refuses connections without a user when its security is on (the shipped broker.xml).
   */
  url: string;
  /** The shared task queue (`task.queue.name`): an ANYCAST queue on Artemis. */
  queueName: string;
  logger: LevelLogger;
  /** Where reconnects and redeliveries are counted; none when absent. */
  metrics?: QueueMetrics;
  /** Backoff between reconnect attempts: doubles from `initialDelayMs` up to `maxDelayMs`. Defaults 200 ms, 30 s. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** The longest `publish()` waits for the broker's RECEIPT, reconnects included. Default 30 s. */
  publishTimeoutMs?: number;
  /** The longest one connection attempt (TCP, TLS, CONNECT/CONNECTED) may take. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Heart-beat period both ways: the client sends one at least this often and expects the
   * broker to do the same; a silent broker counts as gone after about twice this. Default 10 s.
   */
  heartbeatMs?: number;
  /** The longest a disconnect or unsubscribe waits for the broker's answer. Default 5 s. */
  closeTimeoutMs?: number;
}

/** Where to connect, taken apart from the URL once. */
export interface StompEndpoint {
  tls: boolean;
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** The URL without its password, for log lines and error messages. */
  redactedUrl: string;
}

/** {@link StompTaskQueueOptions} with every default applied and every value checked. */
export interface CompiledStompOptions {
  endpoint: StompEndpoint;
  queueName: string;
  logger: LevelLogger;
  metrics: QueueMetrics;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  heartbeatMs: number;
  closeTimeoutMs: number;
}

const DEFAULTS = {
  reconnectInitialDelayMs: 200,
  reconnectMaxDelayMs: 30_000,
  publishTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  heartbeatMs: 10_000,
  closeTimeoutMs: 5_000,
} as const;

/** Applies defaults and validates; a bad value raises a {@link ConfigError} naming the option. */
export function compileStompOptions(options: StompTaskQueueOptions): CompiledStompOptions {
  const endpoint = parseStompUrl(options.url);
  if (typeof options.queueName !== 'string' || options.queueName.trim() === '') {
    throw new ConfigError('the STOMP task queue needs a queue name', [{ field: 'queueName', message: 'must be a non-empty string' }]);
  }
  const compiled: CompiledStompOptions = {
    endpoint,
    queueName: options.queueName,
    logger: options.logger,
    metrics: options.metrics ?? NO_METRICS,
    reconnectInitialDelayMs: positive('reconnect.initialDelayMs', options.reconnect?.initialDelayMs, DEFAULTS.reconnectInitialDelayMs),
    reconnectMaxDelayMs: positive('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, DEFAULTS.reconnectMaxDelayMs),
    publishTimeoutMs: positive('publishTimeoutMs', options.publishTimeoutMs, DEFAULTS.publishTimeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
    heartbeatMs: positive('heartbeatMs', options.heartbeatMs, DEFAULTS.heartbeatMs),
    closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs, DEFAULTS.closeTimeoutMs),
  };
  if (compiled.reconnectMaxDelayMs < compiled.reconnectInitialDelayMs) {
    throw new ConfigError('reconnect.maxDelayMs is smaller than reconnect.initialDelayMs', [
      { field: 'reconnect.maxDelayMs', message: `must be at least ${compiled.reconnectInitialDelayMs}` },
    ]);
  }
  return compiled;
}

/** Takes a `stomp://` or `stomp+ssl://` URL apart; anything else raises a {@link ConfigError}. */
export function parseStompUrl(url: string): StompEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`invalid STOMP URL "${url}"`, [{ field: 'url', message: 'must look like stomp://user:password@host:61613' }]);
  }
  if (parsed.protocol !== 'stomp:' && parsed.protocol !== 'stomp+ssl:') {
    throw new ConfigError(`unsupported STOMP URL scheme "${parsed.protocol}"`, [{ field: 'url', message: 'must start with stomp:// or stomp+ssl://' }]);
  }
  const redacted = new URL(parsed.href);
  if (redacted.password) redacted.password = '***';
  return {
    tls: parsed.protocol === 'stomp+ssl:',
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: parsed.port ? Number(parsed.port) : 61613,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    redactedUrl: redacted.href,
  };
}

function positive(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${field} must be a positive number of milliseconds`, [{ field, message: `got ${String(value)}` }]);
  }
  return value;
}

import { ConfigError } from '@shipdeck/errors';
import { LevelLogger, redactUrl } from '@shipdeck/logging';
import { NO_METRICS, QueueMetrics } from '@shipdeck/metrics';

/** The AMQP 1.0 brokers the adapter knows; `auto` asks the broker at start. */
export type AmqpDialectName = 'artemis' | 'rabbitmq';

/** Options of {@link createAmqpTaskQueue}. */
export interface AmqpTaskQueueOptions {
  /**
   * `amqp://user:password@host:port[/vhost]` or `amqps://…` (`task.queue.url`). Without user
   * the connection authenticates as ANONYMOUS. The path names a RabbitMQ virtual host; other
   * brokers ignore it. Default ports: 5672 (amqp), 5671 (amqps).
   */
  url: string;
  /** The shared task queue (`task.queue.name`). */
  queueName: string;
  /** Which broker's dialect to speak; `auto` reads the product from the broker's open frame. */
  dialect: AmqpDialectName | 'auto';
  logger: LevelLogger;
  /** Where reconnects and redeliveries are counted; none when absent. */
  metrics?: QueueMetrics;
  /** Backoff between reconnect attempts: doubles from `initialDelayMs` up to `maxDelayMs`. Defaults 200 ms, 30 s. */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /**
   * The longest `publish()` waits for the broker to accept a message, including the time spent
   * waiting for a reconnect; then it rejects with a retryable error. Default 30 s.
   */
  publishTimeoutMs?: number;
  /** The longest one connection attempt (TCP, SASL, open) may take. Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * How long the peer may stay silent before the connection counts as dead (AMQP idle
   * time-out; the broker is asked to send heartbeats well within it). Default 60 s.
   */
  idleTimeoutMs?: number;
  /** The longest a link or connection close waits for the broker's answer. Default 5 s. */
  closeTimeoutMs?: number;
}

/** Where to connect, taken apart from the URL once. */
export interface AmqpEndpoint {
  transport: 'tcp' | 'tls';
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** RabbitMQ virtual host from the URL path; undefined means the broker's default. */
  vhost?: string;
  /** The URL without its password, for log lines and error messages. */
  redactedUrl: string;
}

/** {@link AmqpTaskQueueOptions} with every default applied and every value checked. */
export interface CompiledAmqpOptions {
  /** The URL as given (the RabbitMQ dialect hands it to its AMQP 0-9-1 client). */
  url: string;
  endpoint: AmqpEndpoint;
  queueName: string;
  dialect: AmqpDialectName | 'auto';
  logger: LevelLogger;
  metrics: QueueMetrics;
  reconnectInitialDelayMs: number;
  reconnectMaxDelayMs: number;
  publishTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  closeTimeoutMs: number;
}

/** The default of every optional {@link AmqpTaskQueueOptions} value, under its compiled name. */
export const AMQP_DEFAULTS = {
  reconnectInitialDelayMs: 200,
  reconnectMaxDelayMs: 30_000,
  publishTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  closeTimeoutMs: 5_000,
} as const;

/** Applies defaults and validates; a bad value raises a {@link ConfigError} naming the option. */
export function compileAmqpOptions(options: AmqpTaskQueueOptions): CompiledAmqpOptions {
  const endpoint = parseAmqpUrl(options.url);
  if (typeof options.queueName !== 'string' || options.queueName.trim() === '') {
    throw new ConfigError('the AMQP task queue needs a queue name', [{ field: 'queueName', message: 'must be a non-empty string' }]);
  }
  if (!['artemis', 'rabbitmq', 'auto'].includes(options.dialect)) {
    throw new ConfigError(`unknown AMQP dialect "${String(options.dialect)}"`, [
      { field: 'dialect', message: 'must be artemis, rabbitmq or auto' },
    ]);
  }
  const compiled: CompiledAmqpOptions = {
    url: options.url,
    endpoint,
    queueName: options.queueName,
    dialect: options.dialect,
    logger: options.logger,
    metrics: options.metrics ?? NO_METRICS,
    reconnectInitialDelayMs: positive('reconnect.initialDelayMs', options.reconnect?.initialDelayMs, AMQP_DEFAULTS.reconnectInitialDelayMs),
    reconnectMaxDelayMs: positive('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, AMQP_DEFAULTS.reconnectMaxDelayMs),
    publishTimeoutMs: positive('publishTimeoutMs', options.publishTimeoutMs, AMQP_DEFAULTS.publishTimeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', options.connectTimeoutMs, AMQP_DEFAULTS.connectTimeoutMs),
    idleTimeoutMs: positive('idleTimeoutMs', options.idleTimeoutMs, AMQP_DEFAULTS.idleTimeoutMs),
    closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs, AMQP_DEFAULTS.closeTimeoutMs),
  };
  if (compiled.reconnectMaxDelayMs < compiled.reconnectInitialDelayMs) {
    throw new ConfigError('reconnect.maxDelayMs is smaller than reconnect.initialDelayMs', [
      { field: 'reconnect.maxDelayMs', message: `must be at least ${compiled.reconnectInitialDelayMs}` },
    ]);
  }
  return compiled;
}

/** Takes an `amqp://` or `amqps://` URL apart; anything else raises a {@link ConfigError}. */
export function parseAmqpUrl(url: string): AmqpEndpoint {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`invalid AMQP URL "${url}"`, [{ field: 'url', message: 'must look like amqp://user:password@host:5672' }]);
  }
  if (parsed.protocol !== 'amqp:' && parsed.protocol !== 'amqps:') {
    throw new ConfigError(`unsupported AMQP URL scheme "${parsed.protocol}"`, [{ field: 'url', message: 'must start with amqp:// or amqps://' }]);
  }
  const tls = parsed.protocol === 'amqps:';
  const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return {
    transport: tls ? 'tls' : 'tcp',
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: parsed.port ? Number(parsed.port) : tls ? 5671 : 5672,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    vhost: path === '' ? undefined : path,
    redactedUrl: redactUrl(parsed.href),
  };
}

function positive(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new ConfigError(`${field} must be a positive number of milliseconds`, [{ field, message: `got ${String(value)}` }]);
  }
  return value;
}

import { ConfigError } from '@shipdeck/errors';
import { BROKER_DEFAULTS, BrokerTaskQueueOptions, compileBrokerOptions, CompiledBrokerOptions, parseBrokerUrl, positiveMs } from '../broker-options';

/** The AMQP 1.0 brokers the adapter knows; `auto` asks the broker at start. */
export type AmqpDialectName = 'artemis' | 'rabbitmq';

/** Options of {@link createAmqpTaskQueue}. */
export interface AmqpTaskQueueOptions extends BrokerTaskQueueOptions {
  /**
   * `amqp://user:password@host:port[/vhost]` or `amqps://…` (`task.queue.url`). Without user
   * the connection authenticates as ANONYMOUS. The path names a RabbitMQ virtual host; other
   * brokers ignore it. Default ports: 5672 (amqp), 5671 (amqps).
   */
  url: string;
  /** Which broker's dialect to speak; `auto` reads the product from the broker's open frame. */
  dialect: AmqpDialectName | 'auto';
  /**
   * How long the peer may stay silent before the connection counts as dead (AMQP idle
   * time-out; the broker is asked to send heartbeats well within it). Default 60 s.
   */
  idleTimeoutMs?: number;
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
export interface CompiledAmqpOptions extends CompiledBrokerOptions {
  /** The URL as given (the RabbitMQ dialect hands it to its AMQP 0-9-1 client). */
  url: string;
  endpoint: AmqpEndpoint;
  dialect: AmqpDialectName | 'auto';
  idleTimeoutMs: number;
}

/** The default of every optional {@link AmqpTaskQueueOptions} value, under its compiled name. */
export const AMQP_DEFAULTS = { ...BROKER_DEFAULTS, idleTimeoutMs: 60_000 } as const;

/** Applies defaults and validates; a bad value raises a {@link ConfigError} naming the option. */
export function compileAmqpOptions(options: AmqpTaskQueueOptions): CompiledAmqpOptions {
  const common = compileBrokerOptions('AMQP', options, parseAmqpUrl(options.url));
  if (!['artemis', 'rabbitmq', 'auto'].includes(options.dialect)) {
    throw new ConfigError(`unknown AMQP dialect "${String(options.dialect)}"`, [
      { field: 'dialect', message: 'must be artemis, rabbitmq or auto' },
    ]);
  }
  return {
    ...common,
    url: options.url,
    dialect: options.dialect,
    idleTimeoutMs: positiveMs('idleTimeoutMs', options.idleTimeoutMs, AMQP_DEFAULTS.idleTimeoutMs),
  };
}

/** Takes an `amqp://` or `amqps://` URL apart; anything else raises a {@link ConfigError}. */
export function parseAmqpUrl(url: string): AmqpEndpoint {
  const { parsed, scheme, host, username, password, redactedUrl } = parseBrokerUrl(url, 'AMQP', ['amqp', 'amqps'], 'amqp://user:password@host:5672');
  const tls = scheme === 'amqps';
  const path = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return {
    transport: tls ? 'tls' : 'tcp',
    host,
    port: parsed.port ? Number(parsed.port) : tls ? 5671 : 5672,
    username,
    password,
    vhost: path === '' ? undefined : path,
    redactedUrl,
  };
}

import { BROKER_DEFAULTS, BrokerTaskQueueOptions, compileBrokerOptions, CompiledBrokerOptions, parseBrokerUrl, positiveMs } from '../broker-options';

/** Options of {@link createStompTaskQueue}. */
export interface StompTaskQueueOptions extends BrokerTaskQueueOptions {
  /**
   * `stomp://user:password@host:port` or `stomp+ssl://…` (`task.queue.url`). Default port 61613.
   * Artemis refuses connections without a user when its security is on (the shipped broker.xml).
   * The queue (`queueName`) is an ANYCAST queue on Artemis; `publish()` waits for its RECEIPT.
   */
  url: string;
  /**
   * Heart-beat period both ways: the client sends one at least this often and expects the
   * broker to do the same; a silent broker counts as gone after about twice this. Default 10 s.
   */
  heartbeatMs?: number;
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
export interface CompiledStompOptions extends CompiledBrokerOptions {
  endpoint: StompEndpoint;
  heartbeatMs: number;
}

/** The default of every optional {@link StompTaskQueueOptions} value, under its compiled name. */
export const STOMP_DEFAULTS = { ...BROKER_DEFAULTS, heartbeatMs: 10_000 } as const;

/** Applies defaults and validates; a bad value raises a {@link ConfigError} naming the option. */
export function compileStompOptions(options: StompTaskQueueOptions): CompiledStompOptions {
  return {
    ...compileBrokerOptions('STOMP', options, parseStompUrl(options.url)),
    heartbeatMs: positiveMs('heartbeatMs', options.heartbeatMs, STOMP_DEFAULTS.heartbeatMs),
  };
}

/** Takes a `stomp://` or `stomp+ssl://` URL apart; anything else raises a {@link ConfigError}. */
export function parseStompUrl(url: string): StompEndpoint {
  const { parsed, scheme, host, username, password, redactedUrl } = parseBrokerUrl(url, 'STOMP', ['stomp', 'stomp+ssl'], 'stomp://user:password@host:61613');
  return {
    tls: scheme === 'stomp+ssl',
    host,
    port: parsed.port ? Number(parsed.port) : 61613,
    username,
    password,
    redactedUrl,
  };
}

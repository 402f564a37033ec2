import { ConfigError } from '@shipdeck/errors';
import type { LevelLogger, ProcessLogger } from '@shipdeck/logging';
import { AMQP_DEFAULTS, compileAmqpOptions, parseAmqpUrl } from './options';
import { NO_METRICS } from '@shipdeck/metrics';

/** Compile-time check: a winston logger is what the adapter logs to. */
export const winstonLoggerFits = (logger: ProcessLogger): LevelLogger => logger;

const logger: LevelLogger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

describe('parseAmqpUrl', () => {
  it('takes host, port, credentials and virtual host apart and redacts the password', () => {
    expect(parseAmqpUrl('amqp://guest:s%40cret@broker.example:5673/ship%2Fdeck')).toEqual({
      transport: 'tcp',
      host: 'broker.example',
      port: 5673,
      username: 'guest',
      password: 's@cret',
      vhost: 'ship/deck',
      redactedUrl: 'amqp://guest:***@broker.example:5673/ship%2Fdeck',
    });
  });

  it('defaults the port by scheme and leaves the virtual host to the broker when there is no path', () => {
    expect(parseAmqpUrl('amqp://broker')).toMatchObject({ transport: 'tcp', port: 5672, vhost: undefined, username: undefined });
    expect(parseAmqpUrl('amqps://broker/')).toMatchObject({ transport: 'tls', port: 5671, vhost: undefined });
  });

  it('refuses other schemes and non-URLs with a ConfigError', () => {
    expect(() => parseAmqpUrl('stomp://broker:61613')).toThrow(ConfigError);
    expect(() => parseAmqpUrl('not a url')).toThrow(/invalid AMQP URL/);
  });
});

describe('compileAmqpOptions', () => {
  it('applies every default, and a given value instead of its default', () => {
    const compiled = compileAmqpOptions({ url: 'amqp://h', queueName: 'q', dialect: 'auto', logger });
    expect(compiled).toEqual({ url: 'amqp://h', endpoint: parseAmqpUrl('amqp://h'), queueName: 'q', dialect: 'auto', logger, metrics: NO_METRICS, ...AMQP_DEFAULTS });
    expect(compileAmqpOptions({ url: 'amqp://h', queueName: 'q', dialect: 'auto', logger, idleTimeoutMs: 5 }).idleTimeoutMs).toBe(5);
  });

  it('names the option that is wrong', () => {
    const base = { url: 'amqp://h', queueName: 'q', dialect: 'rabbitmq' as const, logger };
    expect(() => compileAmqpOptions({ ...base, queueName: ' ' })).toThrow(/queue name/);
    expect(() => compileAmqpOptions({ ...base, dialect: 'kafka' as never })).toThrow(/unknown AMQP dialect "kafka"/);
    expect(() => compileAmqpOptions({ ...base, publishTimeoutMs: 0 })).toThrow(/publishTimeoutMs/);
    expect(() => compileAmqpOptions({ ...base, reconnect: { initialDelayMs: 500, maxDelayMs: 100 } })).toThrow(/maxDelayMs/);
  });
});

import type { Logger } from 'winston';
import { ConfigError } from '@shipdeck/errors';
import { AmqpLogger, compileAmqpOptions, parseAmqpUrl, reconnectDelayMs } from './options';

/** Compile-time check: a winston logger is an AmqpLogger. */
export const winstonLoggerFits = (logger: Logger): AmqpLogger => logger;

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

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
  it('applies every default in one place', () => {
    const compiled = compileAmqpOptions({ url: 'amqp://h', queueName: 'q', dialect: 'auto', logger });
    expect(compiled).toMatchObject({
      queueName: 'q',
      dialect: 'auto',
      reconnectInitialDelayMs: 200,
      reconnectMaxDelayMs: 30_000,
      publishTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      idleTimeoutMs: 60_000,
      closeTimeoutMs: 5_000,
    });
  });

  it('names the option that is wrong', () => {
    const base = { url: 'amqp://h', queueName: 'q', dialect: 'rabbitmq' as const, logger };
    expect(() => compileAmqpOptions({ ...base, queueName: ' ' })).toThrow(/queue name/);
    expect(() => compileAmqpOptions({ ...base, dialect: 'kafka' as never })).toThrow(/unknown AMQP dialect "kafka"/);
    expect(() => compileAmqpOptions({ ...base, publishTimeoutMs: 0 })).toThrow(/publishTimeoutMs/);
    expect(() => compileAmqpOptions({ ...base, reconnect: { initialDelayMs: 500, maxDelayMs: 100 } })).toThrow(/maxDelayMs/);
  });
});

describe('reconnectDelayMs', () => {
  const options = { reconnectInitialDelayMs: 100, reconnectMaxDelayMs: 1000 };

  it('doubles from the initial delay up to the cap', () => {
    const top = () => 1; // jitter at its maximum
    expect([0, 1, 2, 3, 4, 10, 100].map((attempt) => reconnectDelayMs(attempt, options, top))).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
  });

  it('jitters down to half of it', () => {
    expect(reconnectDelayMs(2, options, () => 0)).toBe(200);
    expect(reconnectDelayMs(2, options, () => 0.5)).toBe(300);
  });
});

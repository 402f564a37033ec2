import { ConfigError } from '@shipdeck/errors';
import { compileStompOptions, parseStompUrl } from './options';
import { taskMessageHeaders } from './envelope';

const logger = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

describe('parseStompUrl', () => {
  it('takes a stomp:// URL apart, decoding the credentials and hiding the password', () => {
    expect(parseStompUrl('stomp://ship%40deck:p%3Ass@artemis:61616')).toEqual({
      tls: false,
      host: 'artemis',
      port: 61616,
      username: 'ship@deck',
      password: 'p:ss',
      redactedUrl: 'stomp://ship%40deck:***@artemis:61616',
    });
  });

  it('reads stomp+ssl:// as TLS and defaults the port to 61613', () => {
    expect(parseStompUrl('stomp+ssl://artemis')).toMatchObject({ tls: true, host: 'artemis', port: 61613, username: undefined });
  });

  it.each(['amqp://artemis', 'not a url'])('refuses %s with a ConfigError', (url) => {
    expect(() => parseStompUrl(url)).toThrow(ConfigError);
  });
});

describe('compileStompOptions', () => {
  it('applies the defaults', () => {
    expect(compileStompOptions({ url: 'stomp://a', queueName: 'q', logger })).toMatchObject({
      reconnectInitialDelayMs: 200,
      reconnectMaxDelayMs: 30_000,
      publishTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      heartbeatMs: 10_000,
      closeTimeoutMs: 5_000,
    });
  });

  it('refuses a non-positive duration and a backoff that shrinks', () => {
    expect(() => compileStompOptions({ url: 'stomp://a', queueName: 'q', logger, heartbeatMs: 0 })).toThrow(/heartbeatMs/);
    expect(() => compileStompOptions({ url: 'stomp://a', queueName: 'q', logger, reconnect: { initialDelayMs: 500, maxDelayMs: 100 } })).toThrow(
      /maxDelayMs/,
    );
    expect(() => compileStompOptions({ url: 'stomp://a', queueName: ' ', logger })).toThrow(/queue name/);
  });
});

describe('taskMessageHeaders', () => {
  it('sends persistent to the ANYCAST queue with the envelope fields as headers (for the selector)', () => {
    const headers = taskMessageHeaders('shipdeck-tasks', {
      version: 1,
      taskId: 't-1',
      taskType: 'DEPLOYMENT',
      configHash: 'abc',
      publishedBy: 'm-1',
      publishedAt: '2026-12-01T00:00:00.000Z',
    });
    expect(headers).toMatchObject({
      destination: 'shipdeck-tasks',
      'destination-type': 'ANYCAST',
      persistent: 'true',
      configHash: 'abc',
      taskId: 't-1',
      shipdeckVersion: '1',
    });
  });
});

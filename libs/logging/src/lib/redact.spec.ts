import { redactUrl } from './redact';

describe('redactUrl', () => {
  it.each([
    ['postgres://app:s3cret@db:5432/ship', 'postgres://app:***@db:5432/ship'],
    ['amqp://guest:s%40cret@broker.example:5673/ship%2Fdeck', 'amqp://guest:***@broker.example:5673/ship%2Fdeck'],
    ['amqps://:token@broker', 'amqps://:***@broker'],
    ['amqp://u:p@ss@host/vhost', 'amqp://u:***@host/vhost'],
    ['postgres://app:pw@db?sslmode=require', 'postgres://app:***@db?sslmode=require'],
  ])('hides the password of %p', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });

  it('leaves URLs without a password alone', () => {
    for (const url of ['amqp://guest@broker', 'postgres://db/ship', 'file:/var/lib/shipdeck.db', 'http://h:8080/a@b']) {
      expect(redactUrl(url)).toBe(url);
    }
  });

  it('hides every password in a message or a JSON string, and in text that is no valid URL', () => {
    expect(redactUrl('from "amqp://a:x@h1" to "amqp://b:y@h2"')).toBe('from "amqp://a:***@h1" to "amqp://b:***@h2"');
    expect(redactUrl('database URL postgres://app:pw@ db: not a URL')).toBe('database URL postgres://app:***@ db: not a URL');
  });
});

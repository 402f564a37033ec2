import { randomBytes } from 'node:crypto';
import { SECRET_MASK, SecretBox, SecretUnavailableError, holdsSealed, mapStringsDeep, maskSealed } from './secrets';

describe('SecretBox', () => {
  const box = new SecretBox(new Uint8Array(randomBytes(32)));

  it('seals to a token without the plaintext and opens it again', () => {
    const sealed = box.seal('hunter2-päss');
    expect(sealed).toMatch(/^<<sealed:v1:[0-9a-f]{8}:[A-Za-z0-9_-]+>>$/);
    expect(sealed).not.toContain('hunter2');
    expect(box.open(sealed)).toBe('hunter2-päss');
    expect(box.seal('hunter2-päss')).not.toBe(sealed);
  });

  it('opens every sealed value inside a string and reports the plaintexts', () => {
    const opened = new Set<string>();
    const text = `postgres://app:${box.seal('pw')}@db/${box.seal('')}x`;
    expect(holdsSealed(text)).toBe(true);
    expect(box.openAll(text, opened)).toBe('postgres://app:pw@db/x');
    expect([...opened]).toEqual(['pw', '']);
  });

  it('refuses another key, naming both keys, and a damaged value', () => {
    const other = new SecretBox(new Uint8Array(randomBytes(32)));
    const sealed = box.seal('s');
    expect(() => other.open(sealed)).toThrow(SecretUnavailableError);
    expect(() => other.open(sealed)).toThrow(`sealed with secrets key ${box.keyId}, but this process has secrets key ${other.keyId}`);
    const damaged = sealed.replace(/.>>$/, (end) => (end[0] === 'A' ? 'B' : 'A') + '>>');
    expect(() => box.open(damaged)).toThrow('damaged');
  });

  it('refuses a key of the wrong length', () => {
    expect(() => new SecretBox(new Uint8Array(randomBytes(16)))).toThrow('32 bytes');
  });

  it('masks sealed values anywhere in JSON-like data', () => {
    const data = { a: [box.seal('x'), 1, null], b: { c: `u:${box.seal('y')}@h` }, d: 'plain' };
    expect(mapStringsDeep(data, maskSealed)).toEqual({ a: [SECRET_MASK, 1, null], b: { c: `u:${SECRET_MASK}@h` }, d: 'plain' });
  });
});

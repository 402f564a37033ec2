import { randomBytes } from 'node:crypto';
import { Host, SECRET_MASK, SecretBox } from '@shipdeck/domain';
import { ValidationError } from '@shipdeck/errors';
import { SecretSealing } from './secret-sealing';

const box = new SecretBox(new Uint8Array(randomBytes(32)));
const sealing = new SecretSealing(box);
const PATHS = ['password', 'jumpHost.password'];
const ssh = (properties: Record<string, unknown>, type = 'ssh'): Host => ({ name: 'web1', type, tags: [], properties });

function fieldsOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ValidationError) return error.details.map((d) => `${d.field}: ${d.message}`);
    throw error;
  }
  throw new Error('accepted');
}

describe('SecretSealing', () => {
  it('seals the secret paths of a host, nested ones too, and leaves the rest and the input alone', () => {
    const incoming = ssh({ address: 'a', password: 'pw', jumpHost: { address: 'b', password: 'jpw' }, other: 'x' });
    const host = sealing.host(incoming, PATHS, null);
    expect(incoming.properties['password']).toBe('pw');
    expect(host.properties['address']).toBe('a');
    expect(host.properties['other']).toBe('x');
    expect(box.open(host.properties['password'] as string)).toBe('pw');
    expect(box.open((host.properties['jumpHost'] as Record<string, string>)['password'])).toBe('jpw');
    expect(sealing.host(ssh({ jumpHost: 'not a map' }), PATHS, null).properties).toEqual({ jumpHost: 'not a map' });
  });

  it('keeps what is stored for the mask and for the same value, but not across a change of host type', () => {
    const stored = sealing.host(ssh({ password: 'pw' }), PATHS, null);
    expect(sealing.host(ssh({ password: SECRET_MASK }), PATHS, stored).properties['password']).toBe(stored.properties['password']);
    expect(sealing.host(ssh({ password: 'pw' }), PATHS, stored).properties['password']).toBe(stored.properties['password']);
    expect(fieldsOf(() => sealing.host(ssh({ password: SECRET_MASK }, 'other'), PATHS, stored))).toEqual([
      `properties.password: is the mask ${SECRET_MASK} but nothing is stored under it; give the value`,
    ]);
  });

  it('refuses a secret that is not a string without showing it, and secrets on a master without a key', () => {
    expect(fieldsOf(() => sealing.host(ssh({ password: 12345 }), PATHS, null))).toEqual(['properties.password: must be a string']);
    const keyless = new SecretSealing(null);
    expect(fieldsOf(() => keyless.environment({ name: 'e', hosts: [], dictionary: {}, secrets: { K: 'v' } }, null))).toEqual([
      'secrets.K: this master has no secrets key (secrets.key or secrets.keyFile), so it cannot store secrets',
    ]);
    expect(keyless.host(ssh({ address: 'a' }), PATHS, null).properties).toEqual({ address: 'a' });
  });
});

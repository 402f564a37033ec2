import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@shipdeck/errors';
import { loadConfig } from './load-config';
import { openOrCreateSecretBox, openSecretBox } from './secrets-key';

describe('the secrets key', () => {
  let home: string;
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'shipdeck-key-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));
  const config = (env: Record<string, string> = {}) => loadConfig({ home, env });

  it('is created by a master in a private file, found again at the next start, and read by a worker', () => {
    expect(openSecretBox(config())).toBeNull();
    const box = openOrCreateSecretBox(config());
    const file = join(home, 'data', 'secrets.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, 'data')).mode & 0o777).toBe(0o700);
    expect(openOrCreateSecretBox(config()).keyId).toBe(box.keyId);
    expect(openSecretBox(config())!.open(box.seal('v'))).toBe('v');
  });

  it('comes from secrets.key before any file, and the same key opens what the other sealed', () => {
    const key = randomBytes(32).toString('base64');
    writeFileSync(join(home, 'other.key'), randomBytes(32).toString('base64'));
    const fromEnv = openOrCreateSecretBox(config({ SHIPDECK_SECRETS_KEY: key, SHIPDECK_SECRETS_KEY_FILE: 'other.key' }));
    writeFileSync(join(home, 'same.key'), `${key}\n`);
    expect(openSecretBox(config({ SHIPDECK_SECRETS_KEY_FILE: 'same.key' }))!.open(fromEnv.seal('x'))).toBe('x');
  });

  it('refuses a key of the wrong shape without quoting it', () => {
    for (const bad of ['short', randomBytes(31).toString('base64'), `${randomBytes(32).toString('base64')}!`]) {
      const error = (() => {
        try {
          config({ SHIPDECK_SECRETS_KEY: bad });
        } catch (e) {
          return e as ConfigError;
        }
        throw new Error('accepted');
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toContain('secrets.key');
      expect(error.message).not.toContain(bad);
    }
  });

  it('refuses a key file that holds no key, or cannot be read, naming the file only', () => {
    writeFileSync(join(home, 'bad.key'), 'not a key at all');
    expect(() => openOrCreateSecretBox(config({ SHIPDECK_SECRETS_KEY_FILE: 'bad.key' }))).toThrow(
      `secrets.keyFile: ${join(home, 'bad.key')} must be 32 random bytes in base64`,
    );
    expect(() => openSecretBox(config({ SHIPDECK_SECRETS_KEY_FILE: '.' }))).toThrow(/secrets.keyFile: cannot read .* \(EISDIR\)/);
    expect(readFileSync(join(home, 'bad.key'), 'utf8')).toBe('not a key at all');
  });
});

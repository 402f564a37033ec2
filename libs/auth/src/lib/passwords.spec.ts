import {
  MAX_PASSWORD_LENGTH,
  generatePassword,
  hashPassword,
  isPasswordHash,
  needsRehash,
  verifyPassword,
} from './passwords';

/** Cheap parameters so that the suite stays fast; one test uses the defaults. */
const FAST = { ln: 4, r: 8, p: 1 };

describe('password hashing', () => {
  it('hashes with the default parameters, stored in the hash, and verifies', async () => {
    const hash = await hashPassword('correct horse battery staple');
    expect(hash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/);
    expect(hash).not.toContain('correct horse');
    await expect(verifyPassword('correct horse battery staple', hash)).resolves.toBe(true);
    await expect(verifyPassword('correct horse battery stapl', hash)).resolves.toBe(false);
    expect(needsRehash(hash)).toBe(false);
  });

  it('salts every hash: the same password gives different hashes, each verifying', async () => {
    const a = await hashPassword('same password', FAST);
    const b = await hashPassword('same password', FAST);
    expect(a).not.toBe(b);
    await expect(verifyPassword('same password', a)).resolves.toBe(true);
    await expect(verifyPassword('same password', b)).resolves.toBe(true);
  });

  it('verifies with the parameters stored in the hash, not the current defaults', async () => {
    const hash = await hashPassword('old password', FAST);
    expect(hash.startsWith('$scrypt$ln=4,r=8,p=1$')).toBe(true);
    await expect(verifyPassword('old password', hash)).resolves.toBe(true);
    expect(needsRehash(hash)).toBe(true);
    expect(needsRehash(hash, FAST)).toBe(false);
  });

  it('treats Unicode forms of the same text as the same password', async () => {
    const hash = await hashPassword('caf\u00e9-password', FAST);
    await expect(verifyPassword('cafe\u0301-password', hash)).resolves.toBe(true);
  });

  it('never matches a malformed or tampered hash', async () => {
    const hash = await hashPassword('secret-password', FAST);
    // The first character of the key segment: every one of its bits counts (the last character of
    // base64 may carry only padding bits, which decoding ignores).
    const keyStart = hash.lastIndexOf('$') + 1;
    const swapped = hash[keyStart] === 'A' ? 'B' : 'A';
    const tampered = hash.slice(0, keyStart) + swapped + hash.slice(keyStart + 1);
    await expect(verifyPassword('secret-password', tampered)).resolves.toBe(false);
    await expect(verifyPassword('secret-password', 'secret-password')).resolves.toBe(false);
    await expect(verifyPassword('secret-password', '')).resolves.toBe(false);
    // Parameters out of bounds are refused without running scrypt with them.
    await expect(verifyPassword('secret-password', hash.replace('ln=4', 'ln=40'))).resolves.toBe(false);
    expect(isPasswordHash(hash)).toBe(true);
    expect(isPasswordHash(hash.replace('$scrypt$', '$argon2id$'))).toBe(false);
  });

  it('refuses a password longer than the limit without hashing it', async () => {
    const long = 'x'.repeat(MAX_PASSWORD_LENGTH + 1);
    const hash = await hashPassword(long, FAST);
    await expect(verifyPassword(long, hash)).resolves.toBe(false);
  });

  it('generates long random passwords', () => {
    const a = generatePassword();
    expect(a).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(generatePassword()).not.toBe(a);
  });
});

import { ConflictError, NotFoundError, ValidationError } from '@shipdeck/errors';
import { authKit } from '../testing/auth-kit';
import { AuthService } from './auth-service';
import { ADMIN_PASSWORD_ENV, ensureAdmin } from './bootstrap-admin';
import { AuthError } from './errors';
import { verifyPassword } from './passwords';
import { LoginRateLimiter } from './rate-limit';
import { hashSecret } from './secrets';

const PASSWORD = 'a long enough password';

async function rejection(promise: Promise<unknown>): Promise<AuthError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  return error as AuthError;
}

describe('AuthService users', () => {
  it('creates a user whose password is stored only as a scrypt hash', async () => {
    const { auth, store } = authKit();
    const view = await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    expect(view).not.toHaveProperty('passwordHash');
    const stored = (await store.getUserByName('alice'))!;
    expect(stored.passwordHash.startsWith('$scrypt$')).toBe(true);
    expect(stored.passwordHash).not.toContain(PASSWORD);
    await expect(verifyPassword(PASSWORD, stored.passwordHash)).resolves.toBe(true);
  });

  it('validates name, password, role and environments', async () => {
    const { auth } = authKit();
    const error = await auth
      .createUser({ username: ' bad name', password: 'short', role: 'viewer' })
      .then(
        () => undefined,
        (e: unknown) => e as ValidationError,
      );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.details.map((d) => d.field)).toEqual(['username', 'password']);
    await expect(
      auth.createUser({ username: 'v', password: PASSWORD, role: 'viewer', environments: ['dev'] }),
    ).rejects.toBeInstanceOf(ValidationError);
    await expect(
      auth.createUser({ username: 'r', password: PASSWORD, role: 'root' as 'admin' }),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it('refuses a taken name', async () => {
    const { auth } = authKit();
    await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    await expect(auth.createUser({ username: 'alice', password: PASSWORD, role: 'admin' })).rejects.toBeInstanceOf(ConflictError);
  });

  it('keeps the environment list for deployers only and drops it on a role change', async () => {
    const { auth } = authKit();
    const dep = await auth.createUser({ username: 'dep', password: PASSWORD, role: 'deployer', environments: ['dev'] });
    expect(dep.environments).toEqual(['dev']);
    expect((await auth.updateUser(dep.id, { environments: ['dev', 'test'] })).environments).toEqual(['dev', 'test']);
    const viewer = await auth.updateUser(dep.id, { role: 'viewer' });
    expect(viewer).toMatchObject({ role: 'viewer', environments: null });
    await expect(auth.updateUser(dep.id, { environments: ['dev'] })).rejects.toBeInstanceOf(ValidationError);
    await expect(auth.updateUser('no-such-id', { disabled: true })).rejects.toBeInstanceOf(NotFoundError);
  });

  it('disabling a user ends their sessions and refuses their tokens', async () => {
    const { auth } = authKit();
    const user = await auth.createUser({ username: 'alice', password: PASSWORD, role: 'deployer' });
    const { sessionId } = await auth.login('alice', PASSWORD, '10.0.0.1');
    const { token } = await auth.createToken(user.id, 'ci');
    await auth.updateUser(user.id, { disabled: true });
    expect((await rejection(auth.verifySession(sessionId))).message).toBe('session unknown or ended');
    expect((await rejection(auth.verifyToken(token))).message).toContain('disabled');
    await expect(auth.verifyPassword('alice', PASSWORD, '10.0.0.1')).rejects.toBeInstanceOf(AuthError);
  });

  it('a password change ends sessions, keeps tokens, and only the new password works', async () => {
    const { auth } = authKit();
    const user = await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    const { sessionId } = await auth.login('alice', PASSWORD, 'ip');
    const { token } = await auth.createToken(user.id, 'ci');
    await auth.changePassword(user.id, 'another long password');
    await expect(auth.verifySession(sessionId)).rejects.toBeInstanceOf(AuthError);
    await expect(auth.verifyToken(token)).resolves.toMatchObject({ username: 'alice' });
    await expect(auth.verifyPassword('alice', PASSWORD, 'ip')).rejects.toBeInstanceOf(AuthError);
    await expect(auth.verifyPassword('alice', 'another long password', 'ip')).resolves.toMatchObject({ via: 'basic' });
  });

  it('deleting a user removes their tokens', async () => {
    const { auth } = authKit();
    const user = await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    const { token } = await auth.createToken(user.id, 'ci');
    await auth.deleteUser(user.id);
    expect((await rejection(auth.verifyToken(token))).message).toBe('unknown token');
    await expect(auth.deleteUser(user.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('AuthService passwords', () => {
  it('answers the principal for the right password', async () => {
    const { auth } = authKit();
    const user = await auth.createUser({ username: 'dep', password: PASSWORD, role: 'deployer', environments: ['dev'] });
    await expect(auth.verifyPassword('dep', PASSWORD, 'ip')).resolves.toEqual({
      userId: user.id,
      username: 'dep',
      role: 'deployer',
      environments: ['dev'],
      via: 'basic',
      tokenId: null,
    });
  });

  it('answers the same refusal for an unknown user and a wrong password, logs both without the password, audits both', async () => {
    const { auth, store, lines } = authKit();
    await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    const unknown = await rejection(auth.verifyPassword('mallory', 'guess-number-one', '10.1.1.1'));
    const wrong = await rejection(auth.verifyPassword('alice', 'guess-number-two', '10.1.1.1'));
    expect(unknown.code).toBe('UNAUTHENTICATED');
    expect(unknown.message).toBe(wrong.message);
    expect(lines()).toContain('login failed');
    expect(lines()).toContain('unknown user');
    expect(lines()).toContain('wrong password');
    expect(lines()).not.toContain('guess-number');
    const entries = await store.listAudit({ limit: 10, action: 'login' });
    expect(entries.map((e) => [e.username, e.outcome, e.detail, e.sourceIp])).toEqual([
      ['alice', 'failed', 'wrong password', '10.1.1.1'],
      ['mallory', 'failed', 'unknown user', '10.1.1.1'],
    ]);
  });

  it('rate-limits failed attempts per address and user, with Retry-After, and lets the pair in again after the refill', async () => {
    const { auth, advance } = authKit({
      limiter: new LoginRateLimiter({ capacity: 2, refillIntervalMs: 30_000, maxKeys: 100 }),
    });
    await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    await rejection(auth.verifyPassword('alice', 'wrong-password-1', 'ip-a'));
    await rejection(auth.verifyPassword('alice', 'wrong-password-2', 'ip-a'));
    const limited = await rejection(auth.verifyPassword('alice', PASSWORD, 'ip-a'));
    expect(limited.code).toBe('TOO_MANY_ATTEMPTS');
    expect(limited.status).toBe(429);
    expect(limited.headers).toEqual({ 'Retry-After': '30' });
    // Another address is not limited.
    await expect(auth.verifyPassword('alice', PASSWORD, 'ip-b')).resolves.toMatchObject({ username: 'alice' });
    advance(30_000);
    await expect(auth.verifyPassword('alice', PASSWORD, 'ip-a')).resolves.toMatchObject({ username: 'alice' });
  });

  it('remembers a successful check for a minute, so repeated basic auth costs one hash', async () => {
    const { auth, advance } = authKit();
    await auth.createUser({ username: 'script', password: PASSWORD, role: 'viewer' });
    for (let i = 0; i < 5; i++) await auth.verifyPassword('script', PASSWORD, 'ip');
    expect(auth.passwordStats).toEqual({ hashesComputed: 1, cacheHits: 4 });
    // A wrong password is never answered from the cache.
    await expect(auth.verifyPassword('script', 'not the password', 'ip')).rejects.toBeInstanceOf(AuthError);
    expect(auth.passwordStats).toEqual({ hashesComputed: 2, cacheHits: 4 });
    advance(60_000);
    await auth.verifyPassword('script', PASSWORD, 'ip');
    expect(auth.passwordStats).toEqual({ hashesComputed: 3, cacheHits: 4 });
  });

  it('forgets a remembered check as soon as the stored hash changes or the user is disabled, on any master', async () => {
    const { auth, store, logger } = authKit();
    // A second master over the same store changes the password.
    const other = new AuthService({ store, logger, audit: { record: async () => undefined }, scrypt: { ln: 4, r: 8, p: 1 } });
    const user = await auth.createUser({ username: 'script', password: PASSWORD, role: 'viewer' });
    await auth.verifyPassword('script', PASSWORD, 'ip');
    await other.changePassword(user.id, 'the new long password');
    await expect(auth.verifyPassword('script', PASSWORD, 'ip')).rejects.toBeInstanceOf(AuthError);
    await auth.verifyPassword('script', 'the new long password', 'ip');
    await other.updateUser(user.id, { disabled: true });
    await expect(auth.verifyPassword('script', 'the new long password', 'ip')).rejects.toBeInstanceOf(AuthError);
    expect(auth.passwordStats.cacheHits).toBe(0);
  });

  it('re-hashes a password stored with weaker parameters at a successful check', async () => {
    const { store, logger } = authKit();
    const weak = new AuthService({ store, logger, audit: { record: async () => undefined }, scrypt: { ln: 2, r: 8, p: 1 } });
    await weak.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    const strong = new AuthService({ store, logger, audit: { record: async () => undefined }, scrypt: { ln: 5, r: 8, p: 1 } });
    await strong.verifyPassword('alice', PASSWORD, 'ip');
    const stored = (await store.getUserByName('alice'))!.passwordHash;
    expect(stored.startsWith('$scrypt$ln=5,')).toBe(true);
    await expect(verifyPassword(PASSWORD, stored)).resolves.toBe(true);
  });
});

describe('AuthService tokens', () => {
  it('creates a token shown once, stored as its SHA-256, and verifies it to its user', async () => {
    const { auth, store } = authKit();
    const user = await auth.createUser({ username: 'ci', password: PASSWORD, role: 'deployer' });
    const { token, record } = await auth.createToken(user.id, 'pipeline');
    expect(token).toMatch(/^shipdeck_[A-Za-z0-9_-]{43}$/);
    expect(record).not.toHaveProperty('tokenHash');
    const stored = (await store.getToken(record.id))!;
    expect(stored.tokenHash).toBe(hashSecret(token));
    expect(JSON.stringify(await store.listTokens())).not.toContain(token);
    await expect(auth.verifyToken(token)).resolves.toEqual({
      userId: user.id,
      username: 'ci',
      role: 'deployer',
      environments: null,
      via: 'token',
      tokenId: record.id,
    });
  });

  it('refuses malformed, unknown, revoked and expired tokens, saying which', async () => {
    const { auth, advance } = authKit();
    const user = await auth.createUser({ username: 'ci', password: PASSWORD, role: 'viewer' });
    expect((await rejection(auth.verifyToken('not-a-token'))).message).toBe('malformed token');
    expect((await rejection(auth.verifyToken(`shipdeck_${'A'.repeat(43)}`))).message).toBe('unknown token');

    const revoked = await auth.createToken(user.id, 'revoked');
    await auth.verifyToken(revoked.token);
    const view = await auth.revokeToken(revoked.record.id);
    expect(view.revokedAt).not.toBeNull();
    expect((await rejection(auth.verifyToken(revoked.token))).message).toBe('token revoked');

    const expiring = await auth.createToken(user.id, 'short-lived', new Date(Date.parse('2026-03-01T13:00:00Z')).toISOString());
    await expect(auth.verifyToken(expiring.token)).resolves.toMatchObject({ tokenId: expiring.record.id });
    advance(60 * 60 * 1000);
    const expired = await rejection(auth.verifyToken(expiring.token));
    expect(expired.message).toBe('token expired');
    expect(expired.status).toBe(401);
  });

  it('refuses an expiry in the past and an empty name', async () => {
    const { auth } = authKit();
    const user = await auth.createUser({ username: 'ci', password: PASSWORD, role: 'viewer' });
    await expect(auth.createToken(user.id, 'x', '2020-01-01T00:00:00Z')).rejects.toBeInstanceOf(ValidationError);
    await expect(auth.createToken(user.id, '  ')).rejects.toBeInstanceOf(ValidationError);
    await expect(auth.createToken(user.id, 'x', 'tomorrow')).rejects.toBeInstanceOf(ValidationError);
    await expect(auth.createToken('no-such-user', 'x')).rejects.toBeInstanceOf(NotFoundError);
    await expect(auth.revokeToken('no-such-token')).rejects.toBeInstanceOf(NotFoundError);
  });

  it('records the last use, at most once a minute', async () => {
    const { auth, advance, clock } = authKit();
    const user = await auth.createUser({ username: 'ci', password: PASSWORD, role: 'viewer' });
    const { token, record } = await auth.createToken(user.id, 'ci');
    expect(record.lastUsedAt).toBeNull();
    await auth.verifyToken(token);
    const first = clock.now.toISOString();
    expect((await auth.getToken(record.id)).lastUsedAt).toBe(first);
    advance(30_000);
    await auth.verifyToken(token);
    expect((await auth.getToken(record.id)).lastUsedAt).toBe(first);
    advance(31_000);
    await auth.verifyToken(token);
    expect((await auth.getToken(record.id)).lastUsedAt).toBe(clock.now.toISOString());
    expect((await auth.listTokens(user.id)).map((t) => t.id)).toEqual([record.id]);
  });
});

describe('AuthService sessions', () => {
  it('login opens a stored session that verifies until it expires', async () => {
    const { auth, store, advance } = authKit();
    const user = await auth.createUser({ username: 'alice', password: PASSWORD, role: 'admin' });
    const opened = await auth.login('alice', PASSWORD, '10.0.0.9');
    expect(opened.expiresAt).toBe('2026-03-02T00:00:00.000Z');
    expect(await store.getSession(opened.sessionId)).toBeNull();
    expect(await store.getSession(hashSecret(opened.sessionId))).toMatchObject({ userId: user.id });
    await expect(auth.verifySession(opened.sessionId)).resolves.toMatchObject({ username: 'alice', via: 'session' });
    const audit = await store.listAudit({ limit: 5, action: 'login' });
    expect(audit[0]).toMatchObject({ outcome: 'succeeded', userId: user.id, sourceIp: '10.0.0.9' });

    advance(12 * 60 * 60 * 1000);
    expect((await rejection(auth.verifySession(opened.sessionId))).message).toBe('session expired');
    // The expired session was deleted on sight.
    expect(await store.getSession(hashSecret(opened.sessionId))).toBeNull();
  });

  it('logout ends the session; a malformed cookie is refused', async () => {
    const { auth } = authKit();
    await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    const { sessionId } = await auth.login('alice', PASSWORD, 'ip');
    await auth.logout(sessionId);
    expect((await rejection(auth.verifySession(sessionId))).message).toBe('session unknown or ended');
    expect((await rejection(auth.verifySession('x'))).message).toBe('malformed session');
  });

  it('housekeeping deletes expired sessions', async () => {
    const { auth, advance } = authKit();
    await auth.createUser({ username: 'alice', password: PASSWORD, role: 'viewer' });
    await auth.login('alice', PASSWORD, 'ip');
    await auth.login('alice', PASSWORD, 'ip');
    expect(await auth.deleteExpiredSessions()).toBe(0);
    advance(12 * 60 * 60 * 1000);
    expect(await auth.deleteExpiredSessions()).toBe(2);
  });
});

describe('ensureAdmin', () => {
  it('creates admin with a generated password on an empty store, once', async () => {
    const { auth, store } = authKit();
    const result = await ensureAdmin(auth, store, {});
    expect(result).toMatchObject({ created: true, username: 'admin' });
    const password = result.created ? result.password : null;
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    await expect(auth.verifyPassword('admin', password!, 'ip')).resolves.toMatchObject({ role: 'admin' });
    await expect(ensureAdmin(auth, store, {})).resolves.toEqual({ created: false });
  });

  it(`takes the password from ${ADMIN_PASSWORD_ENV} and does not hand it back`, async () => {
    const { auth, store } = authKit();
    const result = await ensureAdmin(auth, store, { [ADMIN_PASSWORD_ENV]: 'the operator chose this' });
    expect(result).toEqual({ created: true, username: 'admin', password: null });
    await expect(auth.verifyPassword('admin', 'the operator chose this', 'ip')).resolves.toMatchObject({ role: 'admin' });
  });

  it(`refuses a too-short ${ADMIN_PASSWORD_ENV}, naming it`, async () => {
    const { auth, store } = authKit();
    const error = await ensureAdmin(auth, store, { [ADMIN_PASSWORD_ENV]: 'short' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(error!.message).toContain(ADMIN_PASSWORD_ENV);
    expect(await store.countUsers()).toBe(0);
  });

  it('creates nothing when users exist, and of masters starting together exactly one creates admin', async () => {
    const { auth, store } = authKit();
    const results = await Promise.all([ensureAdmin(auth, store, {}), ensureAdmin(auth, store, {}), ensureAdmin(auth, store, {})]);
    expect(results.filter((r) => r.created)).toHaveLength(1);
    expect(await store.countUsers()).toBe(1);
  });
});

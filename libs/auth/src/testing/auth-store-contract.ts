import { randomUUID } from 'node:crypto';
import { ConflictError } from '@shipdeck/errors';
import { ApiTokenRecord, AuthStore, NewAuditEntry, SessionRecord, UserRecord } from '../lib/store';

/** How the contract gets a store: a fresh, empty one per test file, closed at the end. */
export interface AuthStoreFixture {
  open(): Promise<AuthStore>;
  close(): Promise<void>;
}

const T0 = '2026-01-01T10:00:00.000Z';
const at = (seconds: number) => new Date(Date.parse(T0) + seconds * 1000).toISOString();

function user(overrides: Partial<UserRecord> = {}): UserRecord {
  return {
    id: randomUUID(),
    username: `user-${randomUUID().slice(0, 8)}`,
    passwordHash: '$scrypt$ln=4,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U',
    role: 'viewer',
    environments: null,
    disabled: false,
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

function token(userId: string, overrides: Partial<ApiTokenRecord> = {}): ApiTokenRecord {
  return {
    id: randomUUID(),
    userId,
    name: 'ci',
    tokenHash: randomUUID().replace(/-/g, '') + randomUUID().replace(/-/g, ''),
    createdAt: T0,
    expiresAt: null,
    lastUsedAt: null,
    revokedAt: null,
    ...overrides,
  };
}

function session(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return { idHash: randomUUID().replace(/-/g, ''), userId, createdAt: T0, expiresAt: at(3600), ...overrides };
}

function audit(overrides: Partial<NewAuditEntry> = {}): NewAuditEntry {
  return {
    at: T0,
    userId: null,
    username: 'alice',
    tokenId: null,
    action: 'POST /api/v1/deployments',
    objectIds: {},
    outcome: 'succeeded',
    status: 201,
    sourceIp: '127.0.0.1',
    detail: null,
    taskId: null,
    ...overrides,
  };
}

/**
 * The behaviour every {@link AuthStore} must have, as Jest tests. Run by the in-memory store's
 * spec and by the database store's integration tests (SQLite and PostgreSQL).
 */
export function describeAuthStoreContract(name: string, fixture: AuthStoreFixture): void {
  describe(`${name}: AuthStore contract`, () => {
    let store: AuthStore;
    beforeAll(async () => {
      store = await fixture.open();
    });
    afterAll(() => fixture.close());

    describe('users', () => {
      it('stores a user and reads it back by id and by name, every field intact', async () => {
        const alice = user({ role: 'deployer', environments: ['dev', 'test'] });
        await store.insertUser(alice);
        expect(await store.getUser(alice.id)).toEqual(alice);
        expect(await store.getUserByName(alice.username)).toEqual(alice);
        expect(await store.getUser(randomUUID())).toBeNull();
        expect(await store.getUserByName('nobody-by-this-name')).toBeNull();
      });

      it('refuses a second user with the same name with a ConflictError', async () => {
        const first = user();
        await store.insertUser(first);
        await expect(store.insertUser(user({ username: first.username }))).rejects.toBeInstanceOf(ConflictError);
      });

      it('lists users by name and counts them', async () => {
        const before = await store.countUsers();
        const b = user({ username: `zz-b-${randomUUID().slice(0, 6)}` });
        const a = user({ username: `zz-a-${randomUUID().slice(0, 6)}` });
        await store.insertUser(b);
        await store.insertUser(a);
        expect(await store.countUsers()).toBe(before + 2);
        const names = (await store.listUsers()).map((u) => u.username);
        expect(names).toEqual([...names].sort());
        expect(names.indexOf(a.username)).toBeLessThan(names.indexOf(b.username));
      });

      it('updates only the fields a patch names', async () => {
        const bob = user({ role: 'deployer', environments: ['dev'] });
        await store.insertUser(bob);
        const updated = await store.updateUser(bob.id, { disabled: true, updatedAt: at(10) });
        expect(updated).toEqual({ ...bob, disabled: true, updatedAt: at(10) });
        const again = await store.updateUser(bob.id, { role: 'viewer', environments: null, passwordHash: 'x', updatedAt: at(20) });
        expect(again).toEqual({ ...bob, disabled: true, role: 'viewer', environments: null, passwordHash: 'x', updatedAt: at(20) });
        expect(await store.getUser(bob.id)).toEqual(again);
        expect(await store.updateUser(randomUUID(), { disabled: true, updatedAt: at(30) })).toBeNull();
      });

      it('deletes a user with their tokens and sessions, and keeps audit entries', async () => {
        const carol = user();
        const other = user();
        await store.insertUser(carol);
        await store.insertUser(other);
        const carolToken = token(carol.id);
        const otherToken = token(other.id);
        await store.insertToken(carolToken);
        await store.insertToken(otherToken);
        const carolSession = session(carol.id);
        await store.insertSession(carolSession);
        await store.appendAudit(audit({ userId: carol.id, username: carol.username, action: `delete-test-${carol.id}` }));

        expect(await store.deleteUser(carol.id)).toBe(true);
        expect(await store.deleteUser(carol.id)).toBe(false);
        expect(await store.getUser(carol.id)).toBeNull();
        expect(await store.getToken(carolToken.id)).toBeNull();
        expect(await store.getSession(carolSession.idHash)).toBeNull();
        expect(await store.getToken(otherToken.id)).toEqual(otherToken);
        const entries = await store.listAudit({ limit: 10, action: `delete-test-${carol.id}` });
        expect(entries.map((e) => e.userId)).toEqual([carol.id]);
      });
    });

    describe('API tokens', () => {
      let owner: UserRecord;
      beforeAll(async () => {
        owner = user();
        await store.insertUser(owner);
      });

      it('stores a token and finds it by id, and by hash with its user', async () => {
        const t = token(owner.id, { expiresAt: at(86400) });
        await store.insertToken(t);
        expect(await store.getToken(t.id)).toEqual(t);
        expect(await store.getTokenWithUser(t.tokenHash)).toEqual({ token: t, user: owner });
        expect(await store.getTokenWithUser('0'.repeat(64))).toBeNull();
      });

      it('answers the current user with the token: a disabled user shows at once', async () => {
        const holder = user({ role: 'deployer', environments: ['prod', 'qa'] });
        await store.insertUser(holder);
        const t = token(holder.id, { lastUsedAt: at(20), expiresAt: at(86400) });
        await store.insertToken(t);
        const disabled = await store.updateUser(holder.id, { disabled: true, updatedAt: at(50) });
        expect(disabled?.disabled).toBe(true);
        expect(await store.getTokenWithUser(t.tokenHash)).toEqual({ token: t, user: disabled });
      });

      it('refuses a second token with the same hash', async () => {
        const t = token(owner.id);
        await store.insertToken(t);
        await expect(store.insertToken(token(owner.id, { tokenHash: t.tokenHash }))).rejects.toBeInstanceOf(ConflictError);
      });

      it('lists the tokens of one user oldest first, or everyone\'s', async () => {
        const lister = user();
        await store.insertUser(lister);
        const newer = token(lister.id, { createdAt: at(60) });
        const older = token(lister.id, { createdAt: at(30) });
        await store.insertToken(newer);
        await store.insertToken(older);
        expect((await store.listTokens(lister.id)).map((t) => t.id)).toEqual([older.id, newer.id]);
        const all = (await store.listTokens()).map((t) => t.id);
        expect(all).toEqual(expect.arrayContaining([older.id, newer.id]));
      });

      it('revokes a token once: a second revocation keeps the first time', async () => {
        const t = token(owner.id);
        await store.insertToken(t);
        expect(await store.revokeToken(t.id, at(100))).toEqual({ ...t, revokedAt: at(100) });
        expect(await store.revokeToken(t.id, at(200))).toEqual({ ...t, revokedAt: at(100) });
        expect((await store.getTokenWithUser(t.tokenHash))!.token.revokedAt).toBe(at(100));
        expect(await store.revokeToken(randomUUID(), at(100))).toBeNull();
      });

      it('records the last use at most once per interval', async () => {
        const t = token(owner.id);
        await store.insertToken(t);
        await store.recordTokenUse(t.id, at(100), at(40));
        expect((await store.getToken(t.id))!.lastUsedAt).toBe(at(100));
        // Used at 100, which is after 90: not written again.
        await store.recordTokenUse(t.id, at(150), at(90));
        expect((await store.getToken(t.id))!.lastUsedAt).toBe(at(100));
        await store.recordTokenUse(t.id, at(170), at(110));
        expect((await store.getToken(t.id))!.lastUsedAt).toBe(at(170));
      });
    });

    describe('sessions', () => {
      let owner: UserRecord;
      beforeAll(async () => {
        owner = user();
        await store.insertUser(owner);
      });

      it('stores a session and deletes it once', async () => {
        const s = session(owner.id);
        await store.insertSession(s);
        expect(await store.getSession(s.idHash)).toEqual(s);
        await expect(store.insertSession(s)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.deleteSession(s.idHash)).toBe(true);
        expect(await store.deleteSession(s.idHash)).toBe(false);
        expect(await store.getSession(s.idHash)).toBeNull();
      });

      it('deletes every session of one user', async () => {
        const other = user();
        await store.insertUser(other);
        const mine = [session(owner.id), session(owner.id)];
        const theirs = session(other.id);
        for (const s of [...mine, theirs]) await store.insertSession(s);
        expect(await store.deleteSessionsOfUser(owner.id)).toBe(2);
        expect(await store.getSession(theirs.idHash)).toEqual(theirs);
      });

      it('deletes the sessions that expired at or before a time', async () => {
        const expired = session(owner.id, { expiresAt: at(-10) });
        const endsNow = session(owner.id, { expiresAt: at(0) });
        const live = session(owner.id, { expiresAt: at(10) });
        for (const s of [expired, endsNow, live]) await store.insertSession(s);
        expect(await store.deleteExpiredSessions(at(0))).toBeGreaterThanOrEqual(2);
        expect(await store.getSession(expired.idHash)).toBeNull();
        expect(await store.getSession(endsNow.idHash)).toBeNull();
        expect(await store.getSession(live.idHash)).toEqual(live);
      });
    });

    describe('audit', () => {
      const action = `audit-test-${randomUUID()}`;

      it('reads entries back newest first, every field intact', async () => {
        const first = audit({ action, at: at(1), objectIds: { id: 'task-1' }, userId: randomUUID(), tokenId: randomUUID(), taskId: 'task-1' });
        const second = audit({ action, at: at(2), outcome: 'denied', status: 403, detail: 'FORBIDDEN', sourceIp: null, username: null });
        await store.appendAudit(first);
        await store.appendAudit(second);
        const entries = await store.listAudit({ limit: 10, action });
        expect(entries.map(({ seq: _seq, ...rest }) => rest)).toEqual([second, first]);
        expect(entries[0]!.seq).toBeGreaterThan(entries[1]!.seq);
      });

      it("filters by task: a task's entries, newest first", async () => {
        const taskId = `task-${randomUUID()}`;
        await store.appendAudit(audit({ action: 'POST /api/v1/deployments', taskId, at: at(1) }));
        await store.appendAudit(audit({ action: 'POST /api/v1/tasks/:id/start', taskId: `other-${taskId}`, at: at(2) }));
        await store.appendAudit(audit({ action: 'POST /api/v1/tasks/:id/start', taskId, objectIds: { id: taskId }, at: at(3) }));
        const entries = await store.listAudit({ limit: 10, taskId });
        expect(entries.map((e) => e.action)).toEqual(['POST /api/v1/tasks/:id/start', 'POST /api/v1/deployments']);
        expect(await store.listAudit({ limit: 10, taskId, action: 'POST /api/v1/deployments' })).toHaveLength(1);
      });

      it('pages by seq and filters by user, outcome and time', async () => {
        const paged = `audit-page-${randomUUID()}`;
        for (let i = 0; i < 5; i++) {
          await store.appendAudit(
            audit({ action: paged, at: at(100 + i), username: i % 2 === 0 ? 'even' : 'odd', outcome: i === 4 ? 'failed' : 'succeeded' }),
          );
        }
        const page1 = await store.listAudit({ limit: 2, action: paged });
        expect(page1.map((e) => e.at)).toEqual([at(104), at(103)]);
        const page2 = await store.listAudit({ limit: 2, action: paged, beforeSeq: page1[1]!.seq });
        expect(page2.map((e) => e.at)).toEqual([at(102), at(101)]);
        const page3 = await store.listAudit({ limit: 2, action: paged, beforeSeq: page2[1]!.seq });
        expect(page3.map((e) => e.at)).toEqual([at(100)]);

        expect((await store.listAudit({ limit: 10, action: paged, username: 'odd' })).map((e) => e.at)).toEqual([at(103), at(101)]);
        expect((await store.listAudit({ limit: 10, action: paged, outcome: 'failed' })).map((e) => e.at)).toEqual([at(104)]);
        const window = await store.listAudit({ limit: 10, action: paged, from: at(101), to: at(103) });
        expect(window.map((e) => e.at)).toEqual([at(103), at(102), at(101)]);
      });
    });
  });
}

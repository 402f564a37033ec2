import { ConflictError } from '@shipdeck/errors';
import {
  ApiTokenRecord,
  AuditEntry,
  AuditQuery,
  AuthStore,
  NewAuditEntry,
  SessionRecord,
  UserPatch,
  UserRecord,
} from '../lib/store';

const copy = <T>(value: T): T => structuredClone(value);
const time = (iso: string) => new Date(iso).getTime();

/**
 * An {@link AuthStore} in memory, for unit tests of the auth logic. It passes the same contract
 * (`describeAuthStoreContract`) as the database store, so tests over it mean the same thing.
 */
export class InMemoryAuthStore implements AuthStore {
  private readonly users = new Map<string, UserRecord>();
  private readonly tokens = new Map<string, ApiTokenRecord>();
  private readonly sessions = new Map<string, SessionRecord>();
  private readonly audit: AuditEntry[] = [];

  async insertUser(user: UserRecord): Promise<void> {
    if (this.users.has(user.id) || [...this.users.values()].some((u) => u.username === user.username)) {
      throw new ConflictError(`inserting user ${user.username}: already exists`);
    }
    this.users.set(user.id, copy(user));
  }

  async getUser(id: string): Promise<UserRecord | null> {
    const user = this.users.get(id);
    return user ? copy(user) : null;
  }

  async getUserByName(username: string): Promise<UserRecord | null> {
    const user = [...this.users.values()].find((u) => u.username === username);
    return user ? copy(user) : null;
  }

  async listUsers(): Promise<UserRecord[]> {
    return [...this.users.values()].sort((a, b) => (a.username < b.username ? -1 : 1)).map(copy);
  }

  async countUsers(): Promise<number> {
    return this.users.size;
  }

  async updateUser(id: string, patch: UserPatch): Promise<UserRecord | null> {
    const user = this.users.get(id);
    if (!user) return null;
    const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
    const updated = { ...user, ...copy(defined) };
    this.users.set(id, updated);
    return copy(updated);
  }

  async deleteUser(id: string): Promise<boolean> {
    if (!this.users.delete(id)) return false;
    for (const [key, token] of this.tokens) if (token.userId === id) this.tokens.delete(key);
    for (const [key, session] of this.sessions) if (session.userId === id) this.sessions.delete(key);
    return true;
  }

  async insertToken(token: ApiTokenRecord): Promise<void> {
    if (this.tokens.has(token.id) || [...this.tokens.values()].some((t) => t.tokenHash === token.tokenHash)) {
      throw new ConflictError(`inserting token ${token.id}: already exists`);
    }
    this.tokens.set(token.id, copy(token));
  }

  async getToken(id: string): Promise<ApiTokenRecord | null> {
    const token = this.tokens.get(id);
    return token ? copy(token) : null;
  }

  async getTokenWithUser(tokenHash: string): Promise<{ token: ApiTokenRecord; user: UserRecord | null } | null> {
    const token = [...this.tokens.values()].find((t) => t.tokenHash === tokenHash);
    if (!token) return null;
    const user = this.users.get(token.userId);
    return { token: copy(token), user: user ? copy(user) : null };
  }

  async listTokens(userId?: string): Promise<ApiTokenRecord[]> {
    return [...this.tokens.values()]
      .filter((t) => userId === undefined || t.userId === userId)
      .sort((a, b) => time(a.createdAt) - time(b.createdAt) || (a.id < b.id ? -1 : 1))
      .map(copy);
  }

  async revokeToken(id: string, at: string): Promise<ApiTokenRecord | null> {
    const token = this.tokens.get(id);
    if (!token) return null;
    token.revokedAt ??= at;
    return copy(token);
  }

  async recordTokenUse(id: string, at: string, unlessUsedSince: string): Promise<void> {
    const token = this.tokens.get(id);
    if (token && (token.lastUsedAt === null || time(token.lastUsedAt) < time(unlessUsedSince))) token.lastUsedAt = at;
  }

  async insertSession(session: SessionRecord): Promise<void> {
    if (this.sessions.has(session.idHash)) throw new ConflictError('inserting session: already exists');
    this.sessions.set(session.idHash, copy(session));
  }

  async getSession(idHash: string): Promise<SessionRecord | null> {
    const session = this.sessions.get(idHash);
    return session ? copy(session) : null;
  }

  async deleteSession(idHash: string): Promise<boolean> {
    return this.sessions.delete(idHash);
  }

  async deleteSessionsOfUser(userId: string): Promise<number> {
    return this.deleteSessionsWhere((s) => s.userId === userId);
  }

  async deleteExpiredSessions(now: string): Promise<number> {
    return this.deleteSessionsWhere((s) => time(s.expiresAt) <= time(now));
  }

  async appendAudit(entry: NewAuditEntry): Promise<void> {
    this.audit.push({ ...copy(entry), seq: this.audit.length + 1 });
  }

  async listAudit(query: AuditQuery): Promise<AuditEntry[]> {
    return this.audit
      .filter(
        (e) =>
          (query.beforeSeq === undefined || e.seq < query.beforeSeq) &&
          (query.username === undefined || e.username === query.username) &&
          (query.action === undefined || e.action === query.action) &&
          (query.outcome === undefined || e.outcome === query.outcome) &&
          (query.from === undefined || time(e.at) >= time(query.from)) &&
          (query.to === undefined || time(e.at) <= time(query.to)) &&
          (query.taskId === undefined || e.taskId === query.taskId),
      )
      .reverse()
      .slice(0, query.limit)
      .map(copy);
  }

  private deleteSessionsWhere(predicate: (session: SessionRecord) => boolean): number {
    let count = 0;
    for (const [key, session] of this.sessions) {
      if (predicate(session)) {
        this.sessions.delete(key);
        count++;
      }
    }
    return count;
  }
}

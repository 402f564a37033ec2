import type { Role, Subject } from './permissions';
import type { ApiTokenRecord, UserRecord } from './store';

/*
 * Who a request is (a principal) and how users, tokens and sessions are shown to clients.
 */

/** How a request proved who it is. */
export type CredentialKind = 'token' | 'basic' | 'session' | 'cluster';

/** The authenticated caller of a request: a user, possibly acting through one of their tokens. */
export interface Principal extends Subject {
  userId: string;
  username: string;
  role: Role;
  environments: string[] | null;
  via: CredentialKind;
  /** The API token used, when `via` is `token`. */
  tokenId: string | null;
}

/** A user as shown to clients: everything but the password hash. */
export type UserView = Omit<UserRecord, 'passwordHash'>;

/** A token as listed: everything but its hash. */
export type TokenView = Omit<ApiTokenRecord, 'tokenHash'>;

/** What a new user is made of. */
export interface NewUser {
  username: string;
  password: string;
  role: Role;
  /** Deployers only: the environments they are limited to; omitted or null for all. */
  environments?: string[] | null;
}

/** The changes an administrator can make to a user. */
export interface UserChanges {
  role?: Role;
  environments?: string[] | null;
  disabled?: boolean;
}

/** A session opened by AuthService.login: the id goes into the cookie, once. */
export interface OpenedSession {
  sessionId: string;
  expiresAt: string;
  principal: Principal;
}

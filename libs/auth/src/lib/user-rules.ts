import { ErrorCode, FieldError, NotFoundError } from '@shipdeck/errors';
import type { CredentialKind, Principal, TokenView, UserView } from './principal';
import { AuthError, AuthErrorCode } from './errors';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from './passwords';
import { isRole } from './permissions';
import { ApiTokenRecord, UserRecord } from './store';

/*
 * The rules for users and tokens, and how their records are shown: what AuthService checks before
 * it stores anything, and what it answers instead of the records (never a hash).
 */

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
const ENVIRONMENT_NAME = /^[^\s]{1,200}$/;

/** The longest name of an API token. */
export const MAX_TOKEN_NAME = 200;

export function principalOf(user: UserRecord, via: CredentialKind, tokenId: string | null): Principal {
  return {
    userId: user.id,
    username: user.username,
    role: user.role,
    environments: user.role === 'deployer' ? user.environments : null,
    via,
    tokenId,
  };
}

export function viewOfUser(user: UserRecord): UserView {
  const { passwordHash: _hash, ...view } = user;
  return view;
}

export function viewOfToken(token: ApiTokenRecord): TokenView {
  const { tokenHash: _hash, ...view } = token;
  return view;
}

export function unauthenticated(message: string): AuthError {
  return new AuthError(AuthErrorCode.UNAUTHENTICATED, message);
}

export function userNotFound(id: string): NotFoundError {
  return new NotFoundError(ErrorCode.NOT_FOUND, `no such user: ${id}`);
}

export function tokenNotFound(id: string): NotFoundError {
  return new NotFoundError(ErrorCode.NOT_FOUND, `no such token: ${id}`);
}

export function checkUsername(username: string): FieldError[] {
  return USERNAME.test(username)
    ? []
    : [{ field: 'username', message: 'must be 1 to 64 letters, digits or . _ @ -, starting with a letter or digit' }];
}

export function checkPassword(password: string): FieldError[] {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    return [{ field: 'password', message: `must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters` }];
  }
  return [];
}

export function checkRole(role: unknown, environments: string[] | null): FieldError[] {
  if (!isRole(role)) return [{ field: 'role', message: 'must be viewer, deployer or admin' }];
  if (environments === null) return [];
  if (role !== 'deployer') return [{ field: 'environments', message: 'only deployers are limited to environments' }];
  if (!Array.isArray(environments) || !environments.every((e) => typeof e === 'string' && ENVIRONMENT_NAME.test(e))) {
    return [{ field: 'environments', message: 'must be a list of environment names' }];
  }
  return [];
}

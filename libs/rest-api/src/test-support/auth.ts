import { AuthService, Role, StoreAuditRecorder } from '@shipdeck/auth';
import { FAST_SCRYPT } from '@shipdeck/auth/testing';
import type { Logger } from '@shipdeck/logging';
import type { Stores } from '@shipdeck/persistence';
import type { RestAppOptions } from '../lib/app';

/** The auth part of {@link RestAppOptions} over the master's own stores, with fast password hashing. */
export function testAuth(stores: Stores, logger: Logger, clusterSecret: string | null = null): RestAppOptions['auth'] {
  const service = new AuthService({ store: stores.auth, logger, audit: new StoreAuditRecorder(stores.auth), scrypt: FAST_SCRYPT });
  return { service, store: stores.auth, clusterSecret, allowedHosts: [], secureCookies: false };
}

/** Creates a user with `role` and answers the `Authorization` header of a new token of theirs. */
export async function bearerFor(auth: AuthService, username: string, role: Role, environments: string[] | null = null): Promise<string> {
  const user = await auth.createUser({ username, password: 'a long enough password', role, environments });
  const { token } = await auth.createToken(user.id, `${username}-token`);
  return `Bearer ${token}`;
}

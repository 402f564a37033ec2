import { ConflictError, ValidationError } from '@shipdeck/errors';
import { AuthService } from './auth-service';
import { generatePassword } from './passwords';
import { AuthStore } from './store';

/** The first-start admin: its name, and the variable its password may come from. */
export const BOOTSTRAP_ADMIN_USERNAME = 'admin';
export const ADMIN_PASSWORD_ENV = 'SHIPDECK_ADMIN_PASSWORD';

/** What {@link ensureAdmin} did. */
export type EnsureAdminResult =
  | { created: false }
  /** `password` is set only when it was generated: the caller prints it once and forgets it. */
  | { created: true; username: string; password: string | null };

/**
 * On a store without users, creates the `admin` user with the password from
 * `SHIPDECK_ADMIN_PASSWORD`, or a generated one that is returned to be shown once. Masters
 * starting together may all call it: one creates the user, the others answer `created: false`.
 */
export async function ensureAdmin(
  auth: AuthService,
  store: AuthStore,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<EnsureAdminResult> {
  if ((await store.countUsers()) > 0) return { created: false };
  const given = env[ADMIN_PASSWORD_ENV];
  const password = given !== undefined && given !== '' ? given : generatePassword();
  try {
    await auth.createUser({ username: BOOTSTRAP_ADMIN_USERNAME, password, role: 'admin' });
  } catch (error) {
    if (error instanceof ConflictError) return { created: false };
    if (error instanceof ValidationError && given) {
      throw new ValidationError(`${ADMIN_PASSWORD_ENV} is not a usable password`, error.details);
    }
    throw error;
  }
  return { created: true, username: BOOTSTRAP_ADMIN_USERNAME, password: given ? null : password };
}

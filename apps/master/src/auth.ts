import { AuthService, StoreAuditRecorder, ensureAdmin, ADMIN_PASSWORD_ENV } from '@shipdeck/auth';
import { ConfigError, ValidationError } from '@shipdeck/errors';
import { Shutdown } from '@shipdeck/lifecycle';
import { Logger, writeConsoleNotice } from '@shipdeck/logging';
import { Stores } from '@shipdeck/persistence';

/** How often expired sessions are deleted. */
const SESSION_SWEEP_MS = 60 * 60_000;

/**
 * The master's users, tokens and sessions. On a database without users it creates `admin`, with
 * SHIPDECK_ADMIN_PASSWORD or a generated password printed once on the console (never to the log
 * files or the database in clear).
 */
export async function startAuth({
  stores,
  logger,
  shutdown,
  jsonLogs,
}: {
  stores: Stores;
  logger: Logger;
  shutdown: Shutdown;
  /** `log.format: json`: the console notice is a JSON line too. */
  jsonLogs: boolean;
}): Promise<AuthService> {
  const auth = new AuthService({ store: stores.auth, logger, audit: new StoreAuditRecorder(stores.auth) });
  let admin;
  try {
    admin = await ensureAdmin(auth, stores.auth);
  } catch (error) {
    if (error instanceof ValidationError) {
      const why = error.details.map((d) => d.message).join('; ');
      throw new ConfigError(`${ADMIN_PASSWORD_ENV} is not a usable password: ${why}`);
    }
    throw error;
  }
  if (admin.created) {
    const password = admin.password ?? `(the value of ${ADMIN_PASSWORD_ENV})`;
    writeConsoleNotice(
      { json: jsonLogs, name: 'master' },
      `\n  Shipdeck created the user "${admin.username}" with the password: ${password}\n` +
        `  It is shown only this once. Log in with: npx shipdeck login --user ${admin.username}\n\n`,
    );
    logger.info('first start: created the admin user', { user: admin.username });
  }
  const sweep = setInterval(() => {
    auth.deleteExpiredSessions().catch((error: unknown) => logger.warn('could not delete expired sessions', { error: String(error) }));
  }, SESSION_SWEEP_MS);
  sweep.unref();
  shutdown.add('session sweep', () => clearInterval(sweep));
  return auth;
}

/** How a listening address reads in a URL: `localhost` for every interface. */
export function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return 'localhost';
  return host.includes(':') ? `[${host}]` : host;
}

import { ConflictError, NotReadyError } from '@shipdeck/errors';

/** Driver error codes that mean the database cannot be reached or is going away: worth retrying. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  // PostgreSQL: admin shutdown, crash shutdown, cannot connect now, too many connections.
  '57P01',
  '57P02',
  '57P03',
  '53300',
  // SQLite: another connection holds the lock longer than the busy timeout.
  'SQLITE_BUSY',
  'SQLITE_BUSY_SNAPSHOT',
  'SQLITE_LOCKED',
]);

/** Messages of node-postgres for a connection that failed or broke, which carry no code. */
const UNAVAILABLE_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Connection ended unexpectedly/i,
];

const UNIQUE_VIOLATION_CODES = new Set(['23505', 'SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE']);

function codeOf(error: unknown): string | undefined {
  const record = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = record?.code ?? record?.driverError?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether a driver error means "the database is not reachable" rather than "this query is wrong". */
export function isUnavailable(error: unknown): boolean {
  const code = codeOf(error);
  if (code !== undefined && (UNAVAILABLE_CODES.has(code) || code.startsWith('08'))) return true;
  const message = error instanceof Error ? error.message : '';
  return UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(message));
}

/**
 * Translates a driver error at the store boundary: unreachable database → {@link NotReadyError}
 * (retryable), uniqueness clash → {@link ConflictError}; anything else is rethrown as it is.
 */
export function translateError(error: unknown, what: string): never {
  if (isUnavailable(error)) {
    throw Object.assign(new NotReadyError(`database not available (${what}): ${(error as Error).message}`), {
      cause: error,
    });
  }
  const code = codeOf(error);
  if (code !== undefined && UNIQUE_VIOLATION_CODES.has(code)) {
    throw Object.assign(new ConflictError(`${what}: already exists`), { cause: error });
  }
  throw error;
}

import { createServer } from 'node:net';
import { ConfigError, NotReadyError } from '@shipdeck/errors';
import { ShipdeckConfig, envVarName } from '@shipdeck/config';
import { redactUrl } from '@shipdeck/logging';

/** A start-up problem with one line that says what, where and what to do, and the exit code. */
export class StartFailure extends Error {
  constructor(
    message: string,
    /** 64 usage, 69 a service unavailable (EX_UNAVAILABLE), 78 configuration, 1 anything else. */
    readonly exitCode: number,
    /** The error behind it, whose stack debug logging shows. */
    readonly underlying?: unknown,
  ) {
    super(message);
    this.name = 'StartFailure';
  }
}

/** The port is taken: names the key that sets it and its variable. */
export function portBusy(error: unknown, port: number, key: string): unknown {
  if ((error as { code?: unknown } | null)?.code !== 'EADDRINUSE' && !/already in use/.test(String(error))) return error;
  const variable = envVarName(key);
  return new StartFailure(
    `port ${port} (${key}) is already in use by another process (another master?): stop it, or choose another port with ${key} in conf/shipdeck.yaml or ${variable}`,
    69,
    error,
  );
}

/** Fails with {@link portBusy} when `port` cannot be bound now; binds nothing. */
export async function ensurePortFree(port: number, key: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (error) => reject(portBusy(error, port, key)));
    probe.listen(port, () => probe.close(() => resolve()));
  });
}

/** The database could not be opened or migrated. */
export function databaseFailure(error: unknown, config: ShipdeckConfig): unknown {
  if (error instanceof ConfigError) return error;
  const where = config.db.file ?? redactUrl(config.db.url);
  const reason = messageOf(error).replace(/^database not available \([^)]*\): /, '');
  const advice =
    config.db.file !== null
      ? 'check that its directory is writable and no other master uses the file'
      : 'start PostgreSQL or fix db.url (SHIPDECK_DB_URL)';
  const unreachable = error instanceof NotReadyError;
  return new StartFailure(`cannot ${unreachable ? 'reach' : 'open'} the database ${where} (db.url): ${reason}; ${advice}`, 69, error);
}

/** The broker stayed unreachable for the whole start-up wait. */
export function brokerFailure(error: unknown, config: ShipdeckConfig, waitedMs: number): unknown {
  if (error instanceof ConfigError) return error;
  const where = redactUrl(config.task.queue.url ?? '(none)');
  return new StartFailure(
    `cannot reach the message broker at ${where} (task.queue.url) after ${waitedMs / 1000}s: ${messageOf(error)}; ` +
      'start the broker or fix task.queue.url (SHIPDECK_TASK_QUEUE_URL)',
    69,
    error,
  );
}

/**
 * Exits on a start-up failure with one line on stderr: a configuration problem exits 78
 * (EX_CONFIG), a known failure with its own code; the stack trace is shown only with debug logging.
 */
export function reportStartFailure(error: unknown, env: NodeJS.ProcessEnv): never {
  const debug = ['debug', 'silly'].includes(env['SHIPDECK_LOG_LEVEL'] ?? '');
  let line: string;
  let code: number;
  if (error instanceof ConfigError) {
    [line, code] = [error.message, 78];
  } else if (error instanceof StartFailure) {
    [line, code] = [error.message, error.exitCode];
  } else {
    [line, code] = [`failed to start: ${messageOf(error)}`, 1];
  }
  process.stderr.write(`shipdeck master: ${line}\n`);
  // A configuration message says all there is to say; for the rest the stack helps whoever debugs.
  const stack = (error instanceof StartFailure ? error.underlying : error instanceof ConfigError ? undefined : error) as
    | { stack?: unknown }
    | undefined;
  if (debug && typeof stack?.stack === 'string') process.stderr.write(`${stack.stack}\n`);
  else if (code === 1) process.stderr.write('  (set SHIPDECK_LOG_LEVEL=debug for the stack trace)\n');
  process.exit(code);
}

function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

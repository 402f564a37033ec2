import { CommandSpec, COMMANDS, parseCommandLine, usage, UsageError } from './args';
import { ApiClient, ApiError, UnreachableError } from './client';
import { HANDLERS } from './commands';
import { CliError, messageOf, Session, TextSink } from './session';

/** Exit codes of the CLI. */
export const EXIT = {
  OK: 0,
  /** The server refused the request, a client-side step failed, or a followed task did not execute. */
  FAILED: 1,
  /** The master could not be reached. */
  UNREACHABLE: 2,
  /** The command line could not be understood (EX_USAGE). */
  USAGE: 64,
} as const;

/** The master the CLI talks to when neither `--server` nor `SHIPDECK_SERVER` says otherwise. */
export const DEFAULT_SERVER = 'http://localhost:4516';

/** What {@link runCli} reads and writes; the process's streams and environment in production. */
export interface CliContext {
  stdout: TextSink;
  stderr: TextSink;
  env: Readonly<Record<string, string | undefined>>;
  /** Period of the task polling of `--wait`; 500 ms. */
  pollIntervalMs?: number;
  /** How long `--wait` keeps retrying while the master cannot be reached; 60 s. */
  reconnectTimeoutMs?: number;
}

/** The credentials the CLI presents: the API token in `SHIPDECK_TOKEN` (see docs/security.md). */
function authorizationOf(env: CliContext['env']): string | undefined {
  const token = env['SHIPDECK_TOKEN']?.trim();
  return token ? `Bearer ${token}` : undefined;
}

/**
 * Runs one CLI command line (without the node and script names) and answers the exit code
 * ({@link EXIT}). Never rejects: every failure is printed on stderr.
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const err = (line: string) => void context.stderr.write(`${line}\n`);
  let server = '';
  try {
    const invocation = parseCommandLine(argv);
    if (invocation.command === 'help') {
      const specs: readonly CommandSpec[] = COMMANDS;
      const only = specs.find((c) => c.words.join(' ') === invocation.args['COMMAND']);
      context.stdout.write(usage(only));
      return EXIT.OK;
    }
    server = serverUrl(invocation.flags.server ?? context.env['SHIPDECK_SERVER'] ?? DEFAULT_SERVER);
    const session: Session = {
      client: new ApiClient(server, authorizationOf(context.env)),
      json: invocation.flags.json === true,
      out: (line) => void context.stdout.write(`${line}\n`),
      err,
      pollIntervalMs: context.pollIntervalMs ?? 500,
      reconnectTimeoutMs: context.reconnectTimeoutMs ?? 60_000,
    };
    return await HANDLERS[invocation.command](session, invocation);
  } catch (error) {
    return reportError(error, err, context.stderr);
  }
}

function reportError(error: unknown, err: (line: string) => void, stderr: TextSink): number {
  if (error instanceof UsageError) {
    err(`error: ${error.message}`);
    stderr.write(`\n${usage(error.command)}`);
    return EXIT.USAGE;
  }
  if (error instanceof UnreachableError) {
    err(`error: cannot reach Shipdeck at ${error.server} (is the master running? start it with: npm start)`);
    if (error.networkCode !== 'ECONNREFUSED') err(`  cause: ${error.reason}`);
    return EXIT.UNREACHABLE;
  }
  if (error instanceof ApiError) {
    err(`error: ${error.code}: ${error.message}`);
    for (const d of error.details) err(`  ${d.field}: ${d.message}`);
    if (error.status === 401) err('  create an API token (POST /api/v1/tokens, see docs/security.md) and set SHIPDECK_TOKEN to it');
    return EXIT.FAILED;
  }
  if (error instanceof CliError) {
    err(`error: ${error.message}`);
    return EXIT.FAILED;
  }
  const stack = (error as { stack?: unknown } | null)?.stack;
  err(`error: unexpected failure: ${typeof stack === 'string' ? stack : messageOf(error)}`);
  return EXIT.FAILED;
}

function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError(`--server must be a URL like http://host:4516, got ${JSON.stringify(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--server must be an http:// or https:// URL, got ${JSON.stringify(value)}`);
  }
  return value.replace(/\/+$/, '');
}

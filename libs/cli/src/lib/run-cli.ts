import { helpText, parseCommandLine, usage, UsageError } from './args';
import { authorizationFor } from './auth-commands';
import { ApiClient, ApiError, UnreachableError } from './client';
import { HANDLERS } from './commands';
import type { PromptInput } from './prompt';
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
  /** Standard input, for `login` and `users add` (a prompt on a terminal, else a piped password). */
  stdin?: PromptInput;
  /** First delay before `--wait` and `--follow` reconnect to a dropped event stream; 250 ms. */
  retryDelayMs?: number;
  /** How long `--wait` and `--follow` keep retrying while the master cannot be reached; 60 s. */
  reconnectTimeoutMs?: number;
  /**
   * An event stream silent this long is dropped and reopened; 45 s, three of the keepalives a
   * master sends every 15 s, so that a master that hangs does not hold a wait forever.
   */
  streamIdleTimeoutMs?: number;
  /** What `--version` prints. */
  version?: string;
}

/** Where the master's URL came from, for the "cannot reach" advice. */
type ServerSource = '--server' | 'SHIPDECK_SERVER' | 'default';

/**
 * Runs one CLI command line (without the node and script names) and answers the exit code
 * ({@link EXIT}). Never rejects: every failure is printed on stderr.
 */
export async function runCli(argv: readonly string[], context: CliContext): Promise<number> {
  const err = (line: string) => void context.stderr.write(`${line}\n`);
  let source: ServerSource = 'default';
  try {
    const invocation = parseCommandLine(argv);
    if (invocation.command === 'help') {
      context.stdout.write(helpText(invocation.args['COMMAND']));
      return EXIT.OK;
    }
    if (invocation.command === 'version') {
      context.stdout.write(`shipdeck ${context.version ?? 'unknown'}\n`);
      return EXIT.OK;
    }
    const env = context.env['SHIPDECK_SERVER'];
    source = invocation.flags.server !== undefined ? '--server' : env ? 'SHIPDECK_SERVER' : 'default';
    const server = serverUrl(invocation.flags.server ?? (env || DEFAULT_SERVER));
    const json = invocation.flags.json === true;
    const session: Session = {
      // SHIPDECK_TOKEN, else the token `shipdeck login` stored for this server (docs/security.md).
      client: new ApiClient(server, await authorizationFor(context.env, server)),
      json,
      out: (line) => void context.stdout.write(`${line}\n`),
      err,
      retryDelayMs: context.retryDelayMs ?? 250,
      reconnectTimeoutMs: context.reconnectTimeoutMs ?? 60_000,
      streamIdleTimeoutMs: context.streamIdleTimeoutMs ?? 45_000,
      // A progress line that redraws itself only makes sense on a terminal, and never mixed with JSON.
      progress: !json && context.stdout.isTTY === true ? context.stdout : null,
      env: context.env,
      stdin: context.stdin,
      stderr: context.stderr,
    };
    return await HANDLERS[invocation.command](session, invocation);
  } catch (error) {
    return reportError(error, err, context.stderr, source);
  }
}

function reportError(error: unknown, err: (line: string) => void, stderr: TextSink, source: ServerSource): number {
  if (error instanceof UsageError) {
    err(`error: ${error.message}`);
    stderr.write(`\n${usage(error.command)}`);
    return EXIT.USAGE;
  }
  if (error instanceof UnreachableError) {
    const from = source === 'default' ? 'the default server' : `from ${source}`;
    err(`error: cannot reach Shipdeck at ${error.server} (${from}): ${error.reason}`);
    if (source === 'default') {
      err('  is a master running there? Start one with: npx shipdeck master (or npm start)');
    } else {
      err(`  is a master running at ${error.server}?`);
    }
    err('  to use another master, pass --server URL or set SHIPDECK_SERVER=URL');
    return EXIT.UNREACHABLE;
  }
  if (error instanceof ApiError) {
    err(`error: ${error.code}: ${error.message}`);
    for (const d of error.details) err(`  ${d.field}: ${d.message}`);
    if (error.status === 401) err('  log in with: shipdeck login --user NAME (or set SHIPDECK_TOKEN to an API token; see docs/security.md)');
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

import type { ApiClient } from './client';
import type { PromptInput } from './prompt';

/** Where a command writes: text goes out line by line. */
export interface TextSink {
  write(chunk: string): unknown;
  /** True when this is a terminal (a process stream's own flag): progress lines redraw in place. */
  isTTY?: boolean;
}

/** Everything a command needs while it runs. */
export interface Session {
  client: ApiClient;
  /** `--json`: results go to stdout as JSON, progress lines are left out. */
  json: boolean;
  /** Writes one line to stdout. */
  out(line: string): void;
  /** Writes one line to stderr. */
  err(line: string): void;
  /** First delay before `--wait` and `--follow` reconnect to a dropped event stream; doubles up to 5 s. */
  retryDelayMs: number;
  /** How long `--wait` and `--follow` keep retrying while the master cannot be reached. */
  reconnectTimeoutMs: number;
  /** An event stream silent this long (not even a keepalive) is dropped and reopened. */
  streamIdleTimeoutMs: number;
  /** The terminal a progress line is drawn on, or null (not a terminal, or `--json`): plain lines only. */
  progress: TextSink | null;
  /** The environment (SHIPDECK_PASSWORD, XDG_CONFIG_HOME… for `login`). */
  env: Readonly<Record<string, string | undefined>>;
  /** Standard input, for prompts and piped passwords; absent when there is none. */
  stdin?: PromptInput;
  /** Standard error as a stream, for prompts (which end without a line break). */
  stderr: TextSink;
}

/** Prints a result: the JSON value with `--json`, else the human text. */
export function print(session: Session, value: unknown, human: () => string): void {
  session.out(session.json ? JSON.stringify(value, null, 2) : human());
}

/** A failure on the client side (a file that cannot be read…): `error: message`, exit 1. */
export class CliError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** A path segment, escaped. */
export const seg = (value: string): string => encodeURIComponent(value);

/**
 * The message of anything thrown. Duck-typed rather than `instanceof Error`: errors raised by
 * node itself (fetch, fs, parseArgs) may come from another realm, e.g. under a test runner.
 */
export function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

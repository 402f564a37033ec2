/**
 * The message of anything thrown. Duck-typed, because errors raised inside Node (fetch, timers)
 * come from another realm under test runners and fail `instanceof Error`.
 */
export function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** The message with its cause, e.g. `fetch failed: connect ECONNREFUSED 127.0.0.1:80`. */
export function errorMessageWithCause(error: unknown): string {
  const cause = (error as { cause?: unknown } | null)?.cause;
  return cause === undefined ? errorMessage(error) : `${errorMessage(error)}: ${errorMessage(cause)}`;
}

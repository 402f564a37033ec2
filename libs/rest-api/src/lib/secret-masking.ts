import { maskSealed } from '@shipdeck/domain';

/**
 * The JSON replacer of every answer (`json replacer` of the app, and the event streams): a
 * string holding a sealed secret (an environment's secret entry, an ssh password, a placeholder
 * resolved into a plan) is shown with `******` in its place, to every user. Secret values are
 * never read back through the API.
 */
export function maskSecrets(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? maskSealed(value) : value;
}

/** `data` as JSON with secrets masked. */
export function maskedJson(data: unknown): string {
  return JSON.stringify(data, maskSecrets);
}

/*
 * The name rules of spec §1, in one place for the domain (manifests) and the REST layer (paths,
 * bodies, queries): names of hosts, environments, applications, deployables, dictionary keys,
 * tags and workers; versions may also contain `+`. The charset leaves out control characters,
 * NUL, bidi overrides, white space, `/` and `%`, so a name is safe in a path, a log line and a
 * header; starting with a letter or digit rules out `.`, `..` and option-like `-x`.
 */

/** The longest name or version, in characters. */
export const MAX_NAME_LENGTH = 128;

/** A name: letters, digits, `.`, `_`, `-`, starting with a letter or digit, at most 128 characters. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A version: like a name, and `+` (semver build metadata) is allowed too. */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;

/** What a name may be, in the words of error messages. */
export const NAME_RULE = `letters, digits, ".", "_" and "-", starting with a letter or digit, at most ${MAX_NAME_LENGTH} characters`;

/** What a version may be, in the words of error messages. */
export const VERSION_RULE = `letters, digits, ".", "_", "+" and "-", starting with a letter or digit, at most ${MAX_NAME_LENGTH} characters`;

/** The kinds of identifier the rules cover. */
export type NameKind = 'name' | 'version';

/**
 * Why `value` is not a valid name (or version), in a few words fit for an error detail, or
 * undefined when it is valid. The message never repeats the value: it may be huge or hostile.
 */
export function nameProblem(value: unknown, kind: NameKind = 'name'): string | undefined {
  if (typeof value !== 'string') return 'must be a string';
  if (value === '') return 'must not be empty';
  if (value.length > MAX_NAME_LENGTH) return `must be at most ${MAX_NAME_LENGTH} characters (got ${value.length})`;
  if (value === '.' || value === '..' || value.includes('..')) return 'must not contain ".."';
  const pattern = kind === 'version' ? VERSION_PATTERN : NAME_PATTERN;
  if (pattern.test(value)) return undefined;
  return `may contain only ${kind === 'version' ? VERSION_RULE : NAME_RULE}`;
}

/** Whether `value` is a valid name (or version). */
export function isValidName(value: unknown, kind: NameKind = 'name'): value is string {
  return nameProblem(value, kind) === undefined;
}

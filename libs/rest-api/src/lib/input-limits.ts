import { ErrorCode, FieldError, ValidationError } from '@shipdeck/errors';

/**
 * The shape limits every request body and query is held to before anything reads it, so that
 * hostile input (deep nesting, huge arrays, prototype keys) is refused with a 400 naming the
 * limit instead of exhausting the stack or the event loop further in.
 */
export const INPUT_LIMITS = {
  /** Nesting of objects and arrays; the deepest legitimate body (a manifest's `env`) has 4. */
  maxDepth: 32,
  /** Elements of one array (an environment's hosts, a manifest's deployables…). */
  maxArrayItems: 10_000,
  /** Keys of one object (a dictionary…). */
  maxObjectKeys: 10_000,
  /** Characters of one key. */
  maxKeyLength: 1_024,
} as const;

/**
 * Keys that reach object prototypes when a library copies input into objects
 * (`obj[key] = value`): refused wherever they appear.
 */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Checks parsed input against {@link INPUT_LIMITS} and {@link FORBIDDEN_KEYS}, iteratively (no
 * recursion, so any depth is safe to inspect), and throws a 400 VALIDATION_FAILED whose detail
 * names the offending field and the limit. `root` names the input in fields, e.g. `body`.
 */
export function checkInputShape(value: unknown, root: string): void {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: root, depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop() as { value: unknown; path: string; depth: number };
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth >= INPUT_LIMITS.maxDepth) {
      throw limitError(item.path, `nests deeper than the limit of ${INPUT_LIMITS.maxDepth} levels`);
    }
    if (Array.isArray(item.value)) {
      if (item.value.length > INPUT_LIMITS.maxArrayItems) {
        throw limitError(item.path, `has ${item.value.length} elements; the limit is ${INPUT_LIMITS.maxArrayItems}`);
      }
      item.value.forEach((element, i) => stack.push({ value: element, path: `${item.path}[${i}]`, depth: item.depth + 1 }));
      continue;
    }
    const keys = Object.keys(item.value);
    if (keys.length > INPUT_LIMITS.maxObjectKeys) {
      throw limitError(item.path, `has ${keys.length} keys; the limit is ${INPUT_LIMITS.maxObjectKeys}`);
    }
    for (const key of keys) {
      if (key.length > INPUT_LIMITS.maxKeyLength) {
        throw limitError(item.path, `has a key of ${key.length} characters; the limit is ${INPUT_LIMITS.maxKeyLength}`);
      }
      const path = `${item.path}.${key}`;
      if (FORBIDDEN_KEYS.has(key)) {
        throw new ValidationError(`invalid ${root}: the key "${key}" is not allowed (${path})`, [
          { field: path, message: `the key "${key}" is not allowed` },
        ]);
      }
      stack.push({ value: (item.value as Record<string, unknown>)[key], path, depth: item.depth + 1 });
    }
  }
}

/**
 * The deepest nesting of `[` and `{` in JSON text, counted without parsing (strings skipped), so
 * that text nested beyond {@link INPUT_LIMITS.maxDepth} is refused before `JSON.parse` recurses
 * into it. Stops counting once past the limit.
 */
export function jsonNestingExceedsLimit(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > INPUT_LIMITS.maxDepth) return true;
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--;
    }
  }
  return false;
}

/** A 400 naming the limit a request broke. */
export function limitError(field: string, problem: string): ValidationError {
  const detail: FieldError = { field, message: problem };
  return new ValidationError(`input too large: ${field} ${problem}`, [detail], ErrorCode.VALIDATION_FAILED);
}

/**
 * A `{{KEY}}` placeholder in a property's text (spaces inside the braces allowed). The key is
 * group 1.
 */
export const PLACEHOLDER_PATTERN = /\{\{\s*([^{}\s]+)\s*\}\}/g;

/**
 * The value of a placeholder, or undefined when the environment's dictionary has none (the
 * caller has then recorded the error under `field`, e.g. `app.create`).
 */
export type PlaceholderLookup = (key: string, field: string) => string | undefined;

/**
 * The default resolution: a copy of `value` with every `{{KEY}}` in its strings (also inside
 * lists and maps) replaced by its value. A placeholder without a value is left as written.
 */
export function substitutePlaceholders(value: unknown, lookup: PlaceholderLookup, field: string): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER_PATTERN, (written, key: string) => lookup(key, field) ?? written);
  }
  if (Array.isArray(value)) return value.map((item, i) => substitutePlaceholders(item, lookup, `${field}[${i}]`));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substitutePlaceholders(item, lookup, `${field}.${key}`)]),
    );
  }
  return value;
}

/** {@link substitutePlaceholders} of every property, each named `fieldPrefix.property`. */
export function substituteAll(properties: Record<string, unknown>, lookup: PlaceholderLookup, fieldPrefix: string): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(properties).map(([key, value]) => [key, substitutePlaceholders(value, lookup, `${fieldPrefix}.${key}`)]),
  );
}

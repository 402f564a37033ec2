import { FieldError } from '@shipdeck/errors';

const PLACEHOLDER = /\{\{\s*([^{}\s]+)\s*\}\}/g;

/**
 * A copy of `value` with every `{{KEY}}` in its strings (also inside lists and maps) replaced by
 * `dictionary[KEY]`. Each placeholder the dictionary lacks is left as written and reported in
 * `errors`, once per occurrence, under `field` (`app.env.HOME`, `app.args[0]`…).
 */
export function resolvePlaceholders(
  value: unknown,
  dictionary: Readonly<Record<string, string>>,
  field: string,
  errors: FieldError[],
): unknown {
  if (typeof value === 'string') {
    return value.replace(PLACEHOLDER, (written, key: string) => {
      if (Object.hasOwn(dictionary, key)) return dictionary[key];
      errors.push({ field, message: `unresolved placeholder {{${key}}}` });
      return written;
    });
  }
  if (Array.isArray(value)) return value.map((item, i) => resolvePlaceholders(item, dictionary, `${field}[${i}]`, errors));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, resolvePlaceholders(item, dictionary, `${field}.${key}`, errors)]),
    );
  }
  return value;
}

import { isAbsolute } from 'node:path';
import { parseDuration } from '@shipdeck/config';
import { FieldError } from '@shipdeck/errors';

const PLACEHOLDER = /\{\{[^}]*\}\}/;
/**
 * Reads the type-specific properties of one deployable or step and collects one error per bad
 * field. In `lenient` mode (validation of a manifest, whose placeholders are not resolved yet) a
 * string containing `{{…}}` passes every format check; at execution there are none left.
 */
export class PropertyReader {
  readonly errors: FieldError[] = [];
  private readonly known = new Set<string>();

  constructor(
    private readonly values: Record<string, unknown>,
    private readonly fieldPrefix: string,
    private readonly lenient: boolean,
  ) {}

  /** A string; `required` means it must be present (it may be empty). */
  string(name: string, required: true): string;
  string(name: string, required?: false): string | undefined;
  string(name: string, required = false): string | undefined {
    const value = this.take(name);
    if (value === undefined) {
      if (required) this.fail(name, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') return this.fail(name, `must be a string, got ${describe(value)}`);
    return value;
  }

  /** An absolute file system path. */
  absolutePath(name: string, required: true): string;
  absolutePath(name: string, required?: false): string | undefined;
  absolutePath(name: string, required = false): string | undefined {
    const value = required ? this.string(name, true) : this.string(name);
    if (value === undefined || this.deferred(value)) return value;
    return isAbsolute(value) ? value : this.fail(name, `must be an absolute path, got ${JSON.stringify(value)}`);
  }

  /** An integer in [min, max]; a string of digits is accepted, as a placeholder resolves to one. */
  integer(name: string, min: number, max: number): number | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && this.deferred(value)) return undefined;
    const number = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    if (typeof number !== 'number' || !Number.isInteger(number)) {
      return this.fail(name, `must be an integer, got ${describe(value)}`);
    }
    if (number < min || number > max) return this.fail(name, `must be from ${min} to ${max}, got ${number}`);
    return number;
  }

  /** A duration in milliseconds (`parseDuration` of @shipdeck/config); `positive` refuses zero. */
  duration(name: string, positive: boolean): number | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && this.deferred(value)) return undefined;
    const ms = parseDuration(value);
    if (ms === undefined) {
      return this.fail(name, `must be a duration like 300s, 5m, 2h or a number of seconds, got ${describe(value)}`);
    }
    if (positive && ms <= 0) return this.fail(name, 'must be longer than 0');
    return ms;
  }

  /** An http(s) URL. */
  url(name: string, required: true): string;
  url(name: string, required?: false): string | undefined;
  url(name: string, required = false): string | undefined {
    const value = required ? this.string(name, true) : this.string(name);
    if (value === undefined || this.deferred(value)) return value;
    let protocol: string;
    try {
      protocol = new URL(value).protocol;
    } catch {
      return this.fail(name, `must be a URL, got ${JSON.stringify(value)}`);
    }
    return protocol === 'http:' || protocol === 'https:' ? value : this.fail(name, 'must be an http or https URL');
  }

  /** A map of string values, e.g. environment variables. */
  stringMap(name: string): Record<string, string> | undefined {
    const value = this.take(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return this.fail(name, `must be a map of strings, got ${describe(value)}`);
    }
    const map: Record<string, string> = {};
    let ok = true;
    for (const [key, entry] of Object.entries(value)) {
      if (typeof entry === 'string') map[key] = entry;
      else {
        ok = false;
        this.errors.push({ field: `${this.field(name)}.${key}`, message: `must be a string (quote it in YAML), got ${describe(entry)}` });
      }
    }
    return ok ? map : undefined;
  }

  /** Reports every property that no reader method asked for: most likely a misspelt name. */
  rejectUnknown(typeName: string): void {
    const accepted = [...this.known].join(', ');
    for (const name of Object.keys(this.values)) {
      if (!this.known.has(name)) this.fail(name, `is not a property of ${typeName} (known: ${accepted})`);
    }
  }

  private take(name: string): unknown {
    this.known.add(name);
    const value = Object.hasOwn(this.values, name) ? this.values[name] : undefined;
    return value === null ? undefined : value;
  }

  private deferred(value: string): boolean {
    return this.lenient && PLACEHOLDER.test(value);
  }

  private field(name: string): string {
    return this.fieldPrefix ? `${this.fieldPrefix}.${name}` : name;
  }

  private fail(name: string, message: string): undefined {
    this.errors.push({ field: this.field(name), message });
    return undefined;
  }
}

/**
 * Reads a step's properties for execution: `read` gets a strict reader and answers the typed
 * properties; any error rejects the step with every problem in its message.
 */
export function readStepProperties<T>(
  typeName: string,
  properties: Record<string, unknown>,
  read: (reader: PropertyReader) => T,
): T {
  const reader = new PropertyReader(properties, '', false);
  const result = read(reader);
  if (reader.errors.length > 0) {
    const problems = reader.errors.map((e) => `${e.field} ${e.message}`).join('; ');
    throw new Error(`invalid ${typeName} properties: ${problems}`);
  }
  return result;
}

/** Validates properties for the manifest or the planner, with `read` the same function execution uses. */
export function validateProperties(
  properties: Record<string, unknown>,
  fieldPrefix: string,
  read: (reader: PropertyReader) => unknown,
): FieldError[] {
  const reader = new PropertyReader(properties, fieldPrefix, true);
  read(reader);
  return reader.errors;
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string') return JSON.stringify(value);
  return `${typeof value} ${String(value)}`;
}

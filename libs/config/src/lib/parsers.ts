import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from './duration';

/** A raw configuration value: a YAML scalar, an environment string, or what YAML gave for a leaf. */
export type RawValue = string | number | boolean | null | object;

/** What a parser needs besides the value. */
export interface ParseContext {
  /** The installation directory; relative paths resolve against it. */
  home: string;
}

/** Thrown by a parser: `message` says what the value must be, e.g. `must be an integer between 1 and 10`. */
export class InvalidValue extends Error {}

/**
 * Turns a raw value (never null: null means "not set") into its compiled form, or throws
 * {@link InvalidValue}. Environment values always arrive as strings.
 */
export type Parser<T> = (value: Exclude<RawValue, null>, context: ParseContext) => T;

/** An integer in [min, max]; numeric strings are accepted (environment variables). */
export function integer(min: number, max: number = Number.MAX_SAFE_INTEGER): Parser<number> {
  const rule =
    max === Number.MAX_SAFE_INTEGER ? `must be an integer of at least ${min}` : `must be an integer between ${min} and ${max}`;
  return (value) => {
    const n = typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new InvalidValue(rule);
    return n;
  };
}

/** `true` or `false`; from the environment, the strings `true` and `false` in any case. */
export const boolean: Parser<boolean> = (value) => {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) return value.trim().toLowerCase() === 'true';
  throw new InvalidValue('must be true or false');
};

/** A non-empty string without leading or trailing blanks; numbers are taken as their text. */
export function text(pattern?: { regex: RegExp; rule: string }): Parser<string> {
  return (value) => {
    const s = typeof value === 'number' ? String(value) : value;
    if (typeof s !== 'string' || s.trim() === '' || s.trim() !== s) {
      throw new InvalidValue(pattern ? pattern.rule : 'must be a non-empty string');
    }
    if (pattern && !pattern.regex.test(s)) throw new InvalidValue(pattern.rule);
    return s;
  };
}

/**
 * A secret string of at least `minLength` characters. Its rule never quotes the value (the caller
 * does not show secret values either).
 */
export function secretText(minLength: number): Parser<string> {
  const rule = `must be a string of at least ${minLength} characters without leading or trailing blanks`;
  return (value) => {
    if (typeof value !== 'string' || value.length < minLength || value.trim() !== value) throw new InvalidValue(rule);
    return value;
  };
}

/** What a secrets key must be; the rule never quotes the value. */
export const SECRETS_KEY_RULE = 'must be 32 random bytes in base64 (openssl rand -base64 32)';

/** The 32 bytes of a base64 secrets key (blanks around it ignored), or undefined when it is not one. */
export function decodeSecretsKey(text: string): Uint8Array | undefined {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return undefined;
  const key = Buffer.from(trimmed, 'base64');
  return key.length === 32 && key.toString('base64') === trimmed ? new Uint8Array(key) : undefined;
}

/** `secrets.key`: 32 bytes in base64, kept as that text (the configuration is frozen; bytes cannot be). */
export const secretsKey: Parser<string> = (value) => {
  if (typeof value !== 'string' || !decodeSecretsKey(value)) throw new InvalidValue(SECRETS_KEY_RULE);
  return value.trim();
};

/** One of `values`. */
export function oneOf<const V extends string>(values: readonly V[]): Parser<V> {
  return (value) => {
    if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as V;
    throw new InvalidValue(`must be one of ${values.join(', ')}`);
  };
}

/**
 * A positive duration (see {@link parseDuration}), compiled to whole milliseconds: `500ms`, `30s`,
 * `5m`, `2h`, or a plain number of seconds (`30`, `1.5`).
 */
export const duration: Parser<number> = (value) => {
  const parsed = parseDuration(value);
  const ms = parsed === undefined ? undefined : Math.round(parsed);
  if (ms === undefined || !Number.isFinite(ms) || ms < 1) {
    throw new InvalidValue('must be a positive duration such as 500ms, 30s, 5m, 2h or a number of seconds');
  }
  return ms;
};

/** A path, resolved to an absolute one against the installation directory. */
export const directory: Parser<string> = (value, { home }) => resolve(home, text()(value, { home }));

/** A file path, resolved to an absolute one against the installation directory (existence is checked by its user). */
export const file: Parser<string> = directory;

/**
 * A list of DNS server addresses, `ip` or `ip:port` (IPv6 as `addr`, `[addr]` or `[addr]:port`):
 * a YAML sequence, or one string separated by commas (environment variables). Host names are
 * refused: a resolver needs addresses to start from.
 */
export const dnsServerList: Parser<string[]> = (value) => {
  const rule = 'must be a comma-separated list of IP or IP:port addresses, e.g. 10.0.0.2,127.0.0.1:5353';
  const items: unknown[] | null = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (items === null || items.length === 0) throw new InvalidValue(rule);
  return items.map((item) => {
    const address = typeof item === 'string' ? item.trim() : null;
    if (address === null || !isIpPort(address)) throw new InvalidValue(rule);
    return address;
  });
};

function isIpPort(address: string): boolean {
  if (isIP(address) === 6) return true;
  const match = /^(?:\[([^\]]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(address);
  if (!match) return false;
  if (match[1] !== undefined ? isIP(match[1]) !== 6 : isIP(match[2]!) !== 4) return false;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  return port === undefined || (port >= 1 && port <= 65535);
}

/** Host names (with an optional :port), as a YAML sequence or one comma-separated string. */
export const hostList: Parser<string[]> = (value) => {
  const rule = 'must be a comma-separated list of host names, e.g. shipdeck.example.com,localhost:4516';
  const items: unknown[] | null = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (items === null) throw new InvalidValue(rule);
  return items.map((item) => {
    const host = typeof item === 'string' ? item.trim() : '';
    if (!/^[0-9A-Za-z.\[\]:-]{1,255}$/.test(host)) throw new InvalidValue(rule);
    return host;
  });
};

/** A URL whose scheme is one of `schemes` (without the colon) and that names a host. */
export function url(schemes: readonly string[]): Parser<string> {
  const rule = `must be a URL starting with ${schemes.map((s) => `${s}://`).join(', ')}`;
  return (value, context) => {
    const s = text({ regex: /^\S+$/, rule })(value, context);
    let parsed: URL;
    try {
      parsed = new URL(s);
    } catch {
      throw new InvalidValue(rule);
    }
    if (!schemes.includes(parsed.protocol.slice(0, -1)) || parsed.hostname === '') throw new InvalidValue(rule);
    return s;
  };
}

/** The database: an embedded SQLite file or a PostgreSQL server. */
export interface DatabaseLocation {
  /** `file:/absolute/path.db`, or the PostgreSQL URL as given. */
  url: string;
  /** The absolute database file for `file:` URLs; null for PostgreSQL. */
  file: string | null;
}

/**
 * `file:PATH` (relative to the installation directory, or absolute; `file:///abs` also works) or
 * `postgres://…` / `postgresql://…`.
 */
export const databaseUrl: Parser<DatabaseLocation> = (value, context) => {
  const rule = 'must be file:PATH (relative to the installation directory) or a postgres:// or postgresql:// URL';
  const s = text({ regex: /^\S+$/, rule })(value, context);
  if (s.startsWith('file:')) {
    let path: string;
    try {
      path = s.startsWith('file://') ? fileURLToPath(s) : s.slice('file:'.length);
    } catch {
      throw new InvalidValue(rule);
    }
    if (path === '') throw new InvalidValue(rule);
    const file = isAbsolute(path) ? resolve(path) : resolve(context.home, path);
    return { url: `file:${file}`, file };
  }
  try {
    return { url: url(['postgres', 'postgresql'])(s, context), file: null };
  } catch {
    throw new InvalidValue(rule);
  }
};

/** Which clients `server.trustProxy` believes about `X-Forwarded-For`: none, a hop count, or addresses. */
export type TrustProxy = false | number | string[];

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * Express's `trust proxy`, without its "trust everyone" `true`: `false` (the socket's address is
 * the client's), a hop count (`1`: the last proxy in front), or addresses, CIDRs and the names
 * loopback, linklocal, uniquelocal (a YAML sequence or one comma-separated string).
 */
export const trustProxy: Parser<TrustProxy> = (value) => {
  const rule =
    'must be false, a number of proxy hops (1 or more), or a comma-separated list of proxy addresses or CIDRs ' +
    `(or ${PROXY_NAMES.join(', ')}), e.g. 127.0.0.1,10.0.0.0/8`;
  if (value === false || (typeof value === 'string' && value.trim().toLowerCase() === 'false')) return false;
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+\s*$/.test(value))) {
    const hops = Number(value);
    if (!Number.isInteger(hops) || hops < 1) throw new InvalidValue(rule);
    return hops;
  }
  const items: unknown[] | null = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : null;
  if (items === null || items.length === 0) throw new InvalidValue(rule);
  return items.map((item) => {
    const entry = typeof item === 'string' ? item.trim() : '';
    if (!isProxyAddress(entry)) throw new InvalidValue(rule);
    return entry;
  });
};

function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || rest.length > 0) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

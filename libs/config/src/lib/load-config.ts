import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, Document, Node as YamlNode } from 'yaml';
import { ConfigError, FieldError } from '@shipdeck/errors';
import { LogFormat, LogLevel, redactUrl } from '@shipdeck/logging';
import {
  CONFIG_KEYS,
  ConfigKey,
  ConfigValues,
  QueueDialect,
  TakeoverMode,
  envVarName,
} from './keys';
import { SECTIONS, closestKey, unknownEnvVars } from './closest-name';
import { DatabaseLocation, InvalidValue, RawValue, TrustProxy } from './parsers';

/**
 * The compiled configuration: validated, frozen, every unit converted once (durations in
 * milliseconds in `*Ms` fields, directories absolute). The meaning of each key is documented in
 * {@link CONFIG_KEYS}.
 */
export interface ShipdeckConfig {
  /** The installation directory (absolute) that relative paths were resolved against. */
  readonly home: string;
  readonly server: {
    /** `server.port` */
    readonly port: number;
    /** `server.workerPort` */
    readonly workerPort: number;
    /** `server.hostname` */
    readonly hostname: string;
    /** `server.host`: the interface the REST port listens on. */
    readonly host: string;
    /** `server.allowedHosts` */
    readonly allowedHosts: readonly string[];
    /** `server.secureCookies`, or true with `server.tls.*`. */
    readonly secureCookies: boolean;
    /** `server.tls.*`: the REST port speaks HTTPS with these files, or null for plain HTTP. */
    readonly tls: Readonly<Omit<TlsFiles, 'caFile'>> | null;
    /** `server.trustProxy` */
    readonly trustProxy: TrustProxy;
  };
  readonly task: {
    /** `task.inProcessWorker` */
    readonly inProcessWorker: boolean;
    /** `task.maxActiveTasks` */
    readonly maxActiveTasks: number;
    /** `task.maxPlanSteps` */
    readonly maxPlanSteps: number;
    readonly queue: {
      /** `task.queue.url`; null in the embedded default. */
      readonly url: string | null;
      /** `task.queue.name` */
      readonly name: string;
      /** `task.queue.dialect` */
      readonly dialect: QueueDialect;
    };
    readonly recovery: {
      /** `task.recovery.takeover` */
      readonly takeover: TakeoverMode;
      /** `task.recovery.takeoverAfter` in ms. */
      readonly takeoverAfterMs: number;
      /** `task.recovery.dir`, absolute. */
      readonly dir: string;
    };
    /** `task.leaseDuration` in ms. */
    readonly leaseDurationMs: number;
    /** `task.reconcileInterval` in ms. */
    readonly reconcileIntervalMs: number;
    /** `task.reconcileAfter` in ms. */
    readonly reconcileAfterMs: number;
    /** `task.shutdownGracePeriod` in ms. */
    readonly shutdownGracePeriodMs: number;
  };
  /** `db.url`: `url` is `file:/absolute/path` or the PostgreSQL URL; `file` the database file or null. */
  readonly db: Readonly<DatabaseLocation>;
  readonly worker: {
    /** `worker.connectInterval` in ms. */
    readonly connectIntervalMs: number;
    /** `worker.heartbeatInterval` in ms. */
    readonly heartbeatIntervalMs: number;
    /** `worker.gracePeriod` in ms. */
    readonly gracePeriodMs: number;
    /** `worker.pruneAfter` in ms. */
    readonly pruneAfterMs: number;
    /** `worker.dnsServers`; empty: the system resolver. */
    readonly dnsServers: readonly string[];
  };
  readonly channel: {
    /** `channel.tls.*`: mutual TLS on the command channel, or null for plain TCP. */
    readonly tls: Readonly<TlsFiles> | null;
  };
  readonly cluster: {
    /** `cluster.secret`; null when not set. A secret: never log it. */
    readonly secret: string | null;
    /** `cluster.insecure` */
    readonly insecure: boolean;
  };
  readonly secrets: {
    /** `secrets.key` (32 bytes in base64), or null: the key is in `keyFile`. A secret: never log it. */
    readonly key: string | null;
    /** `secrets.keyFile`, absolute. */
    readonly keyFile: string;
  };
  readonly export: {
    /** `export.dir`, absolute. */
    readonly dir: string;
  };
  readonly log: {
    /** `log.level` */
    readonly level: LogLevel;
    /** `log.format` */
    readonly format: LogFormat;
  };
}

/** The PEM files of mutual TLS (absolute paths): what this process presents, and the CA its peers must chain to. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** The installation directory: `conf/shipdeck.yaml` is read from it, relative paths resolve against it. */
  home: string;
  /** Where `SHIPDECK_*` overrides come from. Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * An unknown key in the file or an unknown `SHIPDECK_*` variable is an error (a process's
   * `--strict`). Otherwise each is a warning handed to {@link onWarning}.
   */
  strict?: boolean;
  /** Receives each warning (unknown key or variable, with the closest known one), e.g. to log it once a logger exists. */
  onWarning?: (warning: FieldError) => void;
}

/** The configuration file of an installation. */
export function configFile(home: string): string {
  return join(resolve(home), 'conf', 'shipdeck.yaml');
}

/**
 * Reads `<home>/conf/shipdeck.yaml` (a missing file means every default), applies the `SHIPDECK_*`
 * environment overrides, validates every key and compiles the result. Every problem found is
 * reported at once, in one {@link ConfigError} naming each bad key, its value and where it came from.
 */
export function loadConfig(options: LoadConfigOptions): ShipdeckConfig {
  const home = resolve(options.home);
  const env = options.env ?? process.env;
  const file = configFile(home);
  const problems: FieldError[] = [];
  const unknown: FieldError[] = [];
  const fromFile = readYaml(file, problems, unknown);
  unknown.push(...unknownEnvVars(env));
  // Unknown names are typos or leftovers: they stop a strict start, and are warnings otherwise.
  if (options.strict) problems.push(...unknown);
  else unknown.forEach((warning) => options.onWarning?.(warning));

  const values: Partial<Record<ConfigKey, unknown>> = {};
  const origins: Partial<Record<ConfigKey, string>> = {};
  for (const key of Object.keys(CONFIG_KEYS) as ConfigKey[]) {
    const spec = CONFIG_KEYS[key];
    const envName = envVarName(key);
    const envValue = env[envName];
    const fileValue = fromFile.get(key);
    let raw: RawValue;
    let origin: string;
    if (envValue !== undefined) {
      // An empty variable clears an optional key (e.g. SHIPDECK_TASK_QUEUE_URL=).
      raw = envValue === '' && spec.default === null ? null : envValue;
      origin = `from ${envName}`;
    } else if (fileValue !== undefined && fileValue.value !== null) {
      raw = fileValue.value;
      origin = `from ${file} line ${fileValue.line}`;
    } else {
      raw = typeof spec.default === 'function' ? spec.default() : spec.default;
      origin = 'as the default';
    }
    origins[key] = origin;
    if (raw === null) {
      values[key] = null;
      continue;
    }
    try {
      values[key] = spec.parse(raw, { home });
    } catch (error) {
      if (!(error instanceof InvalidValue)) throw error;
      const shown = 'secret' in spec && spec.secret ? 'a value that is not shown' : show(raw);
      problems.push({ field: key, message: `${error.message} (got ${shown} ${origin})` });
    }
  }
  const invalid = new Set(problems.map((p) => p.field));
  checkCombinations(values as ConfigValues, origins, invalid, problems);
  if (problems.length > 0) {
    throw new ConfigError(
      `invalid configuration: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems,
    );
  }
  return deepFreeze(compile(values as ConfigValues, home));
}

function compile(v: ConfigValues, home: string): ShipdeckConfig {
  return {
    home,
    server: {
      port: v['server.port'],
      workerPort: v['server.workerPort'],
      hostname: v['server.hostname'],
      host: v['server.host'],
      allowedHosts: v['server.allowedHosts'],
      secureCookies: v['server.secureCookies'] || v['server.tls.cert'] !== null,
      tls: httpsFiles(v),
      trustProxy: v['server.trustProxy'],
    },
    task: {
      inProcessWorker: v['task.inProcessWorker'],
      maxActiveTasks: v['task.maxActiveTasks'],
      maxPlanSteps: v['task.maxPlanSteps'],
      queue: { url: v['task.queue.url'], name: v['task.queue.name'], dialect: v['task.queue.dialect'] },
      recovery: {
        dir: v['task.recovery.dir'],
        takeover: v['task.recovery.takeover'],
        takeoverAfterMs: v['task.recovery.takeoverAfter'],
      },
      leaseDurationMs: v['task.leaseDuration'],
      reconcileIntervalMs: v['task.reconcileInterval'],
      reconcileAfterMs: v['task.reconcileAfter'],
      shutdownGracePeriodMs: v['task.shutdownGracePeriod'],
    },
    db: v['db.url'],
    worker: {
      connectIntervalMs: v['worker.connectInterval'],
      heartbeatIntervalMs: v['worker.heartbeatInterval'],
      gracePeriodMs: v['worker.gracePeriod'],
      pruneAfterMs: v['worker.pruneAfter'],
      dnsServers: v['worker.dnsServers'] ?? [],
    },
    channel: { tls: tlsFiles(v) },
    cluster: { secret: v['cluster.secret'], insecure: v['cluster.insecure'] },
    secrets: { key: v['secrets.key'], keyFile: v['secrets.keyFile'] },
    export: { dir: v['export.dir'] },
    log: { level: v['log.level'], format: v['log.format'] },
  };
}

const TLS_KEYS = ['channel.tls.cert', 'channel.tls.key', 'channel.tls.ca'] as const;
const HTTPS_KEYS = ['server.tls.cert', 'server.tls.key'] as const;

/** Keys that are set all together or not at all, and why. */
const ALL_OR_NONE: readonly [readonly ConfigKey[], string][] = [
  [TLS_KEYS, 'mutual TLS needs a certificate, its key and a CA (set all three or none)'],
  [HTTPS_KEYS, 'HTTPS needs a certificate and its key (set both or none)'],
];

function tlsFiles(v: ConfigValues): TlsFiles | null {
  const [certFile, keyFile, caFile] = TLS_KEYS.map((key) => v[key]);
  return certFile && keyFile && caFile ? { certFile, keyFile, caFile } : null;
}

function httpsFiles(v: ConfigValues): Omit<TlsFiles, 'caFile'> | null {
  const [certFile, keyFile] = HTTPS_KEYS.map((key) => v[key]);
  return certFile && keyFile ? { certFile, keyFile } : null;
}

/** Rules that involve more than one key. */
function checkCombinations(
  v: ConfigValues,
  origins: Partial<Record<ConfigKey, string>>,
  invalid: ReadonlySet<string>,
  problems: FieldError[],
): void {
  // A key that is itself invalid was reported already; rules involving it would only add noise.
  for (const [keys, why] of ALL_OR_NONE) {
    const set = keys.filter((key) => invalid.has(key) || v[key] !== null);
    if (set.length === 0) continue;
    for (const key of keys.filter((k) => !set.includes(k))) {
      problems.push({ field: key, message: `required when ${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set: ${why}` });
    }
  }
  const tlsSet = TLS_KEYS.filter((key) => invalid.has(key) || v[key] !== null);
  if (
    !invalid.has('worker.heartbeatInterval') &&
    !invalid.has('worker.gracePeriod') &&
    v['worker.heartbeatInterval'] >= v['worker.gracePeriod']
  ) {
    problems.push({
      field: 'worker.gracePeriod',
      message: `must be longer than worker.heartbeatInterval (${v['worker.heartbeatInterval']} ms ${origins['worker.heartbeatInterval']}), or a live worker would count as gone (got ${v['worker.gracePeriod']} ms ${origins['worker.gracePeriod']})`,
    });
  }
  if (invalid.has('task.inProcessWorker') || v['task.inProcessWorker']) return;
  const cluster = `task.inProcessWorker is false (${origins['task.inProcessWorker']})`;
  if (!invalid.has('task.queue.url') && v['task.queue.url'] === null) {
    problems.push({
      field: 'task.queue.url',
      message: `required when ${cluster}; set it in conf/shipdeck.yaml or ${envVarName('task.queue.url')}`,
    });
  }
  const authenticated = tlsSet.length > 0 || invalid.has('cluster.secret') || v['cluster.secret'] !== null;
  if (!authenticated && !invalid.has('cluster.insecure') && !v['cluster.insecure']) {
    problems.push({
      field: 'cluster.secret',
      message:
        `required when ${cluster} and channel.tls.* is not set: workers prove with it that they belong to the cluster ` +
        `and masters sign task messages with it; set ${envVarName('cluster.secret')} (the same on every master and worker), ` +
        'configure channel.tls.*, or set cluster.insecure: true to run without authentication',
    });
  }
  if (!invalid.has('db.url') && v['db.url'].file !== null) {
    problems.push({
      field: 'db.url',
      message: `must be a postgres:// URL when ${cluster}: masters and workers share one database (got "${v['db.url'].url}" ${origins['db.url']})`,
    });
  }
}

interface FileValue {
  value: RawValue;
  line: number;
}

/**
 * Leaf values of the YAML file by key path; misplaced values become `problems`, unknown keys
 * `unknown` (with the closest known key).
 */
function readYaml(file: string, problems: FieldError[], unknown: FieldError[]): Map<string, FileValue> {
  const found = new Map<string, FileValue>();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return found;
    throw new ConfigError(`invalid configuration: cannot read ${file}: ${(error as Error).message}`);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined) => Math.max(1, offset === undefined ? 1 : lines.linePos(offset).line);
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    const { line, col } = lines.linePos(error.pos[0]);
    throw new ConfigError(
      `invalid configuration: cannot parse ${file} line ${Math.max(1, line)}, column ${col}: ${error.message}`,
      [{ field: file, message: error.message }],
    );
  }
  const visit = (node: unknown, prefix: string, line: number) => {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) {
      const where = prefix === '' ? `${file}` : `${prefix}`;
      problems.push({
        field: where,
        message: `must be a mapping of keys (got ${show(toJs(doc, node))} from ${file} line ${line})`,
      });
      return;
    }
    for (const pair of node.items) {
      const name = String(isScalar(pair.key) ? pair.key.value : pair.key);
      const path = prefix === '' ? name : `${prefix}.${name}`;
      const keyLine = lineOf((pair.key as YamlNode | null)?.range?.[0]);
      if (path in CONFIG_KEYS) {
        found.set(path, { value: toJs(doc, pair.value), line: keyLine });
      } else if (SECTIONS.has(path)) {
        visit(pair.value, path, keyLine);
      } else {
        const suggestion = closestKey(path);
        unknown.push({
          field: path,
          message: `unknown key in ${file} line ${keyLine}${suggestion ? ` (did you mean ${suggestion}?)` : ''}`,
        });
      }
    }
  };
  visit(doc.contents, '', 1);
  return found;
}

function toJs(doc: Document, node: unknown): RawValue {
  if (node === null || node === undefined) return null;
  if (isScalar(node)) return node.value as RawValue;
  return (node as YamlNode).toJS(doc) as RawValue;
}

/** A value as shown in a message: strings quoted, URL passwords hidden, long values cut. */
function show(value: RawValue): string {
  const s = redactUrl(typeof value === 'string' || typeof value === 'object' ? JSON.stringify(value) : String(value));
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

import { hostname } from 'node:os';
import { LOG_FORMATS, LOG_LEVELS } from '@shipdeck/logging';
import {
  Parser,
  RawValue,
  boolean,
  databaseUrl,
  directory,
  dnsServerList,
  duration,
  hostList,
  file,
  integer,
  oneOf,
  secretText,
  secretsKey,
  text,
  trustProxy,
  url,
} from './parsers';

/** The declaration of one configuration key. */
export interface KeySpec<T> {
  /** What the key means, for people. */
  description: string;
  /**
   * The value used when neither the YAML file nor the environment sets the key, in raw (YAML) form.
   * Null only for optional keys (see {@link optionalKey}), which may then be null.
   */
  default: Exclude<RawValue, null> | (() => Exclude<RawValue, null>) | null;
  /** Validates a raw value and converts it, once, to its compiled form. */
  parse: Parser<T>;
  /** The value is a secret: an error about it never shows it. */
  secret?: boolean;
}

function key<T>(spec: KeySpec<T> & { default: Exclude<KeySpec<T>['default'], null> }): KeySpec<T> {
  return spec;
}

/** A key without a default: its compiled value is null unless it is set. */
function optionalKey<T>(spec: KeySpec<T> & { default: null }): KeySpec<T | null> {
  return spec;
}

/** Queue brokers and the protocol dialect adapters know how to speak. */
export const QUEUE_DIALECTS = ['auto', 'artemis', 'rabbitmq'] as const;
export type QueueDialect = (typeof QUEUE_DIALECTS)[number];

export const TAKEOVER_MODES = ['off', 'auto'] as const;
export type TakeoverMode = (typeof TAKEOVER_MODES)[number];

/**
 * Every configuration key, its default and its rule: the single place where keys are declared.
 * Each key is read from `conf/shipdeck.yaml` (nested mappings) and can be overridden by the
 * environment variable `SHIPDECK_` + the key path in upper snake case (see {@link envVarName}).
 */
export const CONFIG_KEYS = {
  'server.port': key({
    description: 'HTTP port of the master: REST API, UI, health.',
    default: 4516,
    parse: integer(1, 65535),
  }),
  'server.workerPort': key({
    description: 'Port on which the master accepts the command channel of workers.',
    default: 8180,
    parse: integer(1, 65535),
  }),
  'server.host': key({
    description:
      'Interface the REST port listens on: 127.0.0.1 (this machine only) by default; 0.0.0.0 or :: to expose it.',
    default: '127.0.0.1',
    parse: text({ regex: /^[0-9A-Za-z.:-]+$/, rule: 'must be an IP address or a host name' }),
  }),
  'server.allowedHosts': key({
    description:
      'Host header values the REST port answers (comma-separated, e.g. shipdeck.example.com); empty: any. ' +
      'Set it when the port is exposed, against DNS rebinding.',
    default: [] as string[],
    parse: hostList,
  }),
  'server.secureCookies': key({
    description:
      'Mark the session cookie Secure: set it when clients reach the REST port over HTTPS through a TLS proxy ' +
      '(with server.tls.* the cookie is Secure anyway).',
    default: false,
    parse: boolean,
  }),
  'server.tls.cert': optionalKey({
    description:
      'Certificate (PEM, with its chain) of the REST port: with server.tls.key the port speaks HTTPS only. ' +
      'Relative to the installation directory.',
    default: null,
    parse: file,
  }),
  'server.tls.key': optionalKey({
    description: 'Private key (PEM) of server.tls.cert.',
    default: null,
    parse: file,
  }),
  'server.trustProxy': key({
    description:
      'Which reverse proxies in front of the REST port are believed about the client address (X-Forwarded-For), ' +
      'for the login rate limit and the audit: false (none: the connecting address is the client), a number of ' +
      'proxy hops, or proxy addresses/CIDRs (comma-separated, or loopback, linklocal, uniquelocal).',
    default: false,
    parse: trustProxy,
  }),
  'server.hostname': key({
    description: 'Name under which this process is reachable by the others; default: the machine name.',
    default: () => hostname(),
    parse: text({ regex: /^[^\s/]+$/, rule: 'must be a host name without blanks or slashes' }),
  }),
  'task.inProcessWorker': key({
    description:
      'true: evaluation mode, one process with its own worker, an embedded database and no broker. ' +
      'false: cluster mode, external workers, PostgreSQL and a broker (task.queue.url).',
    default: true,
    parse: boolean,
  }),
  'task.maxActiveTasks': key({
    description: "A worker's capacity: how many tasks it executes at once.",
    default: 10,
    parse: integer(1),
  }),
  'task.maxPlanSteps': key({
    description:
      'Most (deployable, host) pairs one deployment plan may cover, unchanged ones included; a larger deployment ' +
      'or preview is refused (400 PLANNING_FAILED) naming the numbers. Split such environments or raise this.',
    default: 10_000,
    parse: integer(1),
  }),
  'task.queue.url': optionalKey({
    description: 'Broker of the shared task queue (amqp://, amqps://, stomp:// or stomp+ssl://); required when task.inProcessWorker is false.',
    default: null,
    parse: url(['amqp', 'amqps', 'stomp', 'stomp+ssl']),
  }),
  'task.queue.name': key({
    description: 'Name of the shared task queue.',
    default: 'shipdeck-tasks',
    parse: text({ regex: /^[A-Za-z0-9._:-]+$/, rule: 'must be a queue name of letters, digits and . _ : -' }),
  }),
  'task.queue.dialect': key({
    description: 'Broker dialect; auto detects it when connecting.',
    default: 'auto',
    parse: oneOf(QUEUE_DIALECTS),
  }),
  'task.recovery.dir': key({
    description: "A worker's work directory (recovery files, worker id); relative to the installation directory.",
    default: 'work',
    parse: directory,
  }),
  'task.recovery.takeover': key({
    description:
      'off: a task whose worker is gone waits for that worker (spec). auto: a compatible worker adopts it once its lease has been expired for task.recovery.takeoverAfter, with the interrupted step FAILED.',
    default: 'off',
    parse: oneOf(TAKEOVER_MODES),
  }),
  'task.recovery.takeoverAfter': key({
    description: 'With takeover auto: how long an owner may miss renewing its lease before its tasks are adopted.',
    default: '60s',
    parse: duration,
  }),
  'task.leaseDuration': key({
    description: "How long a worker's claim on a task stays valid without renewal.",
    default: '30s',
    parse: duration,
  }),
  'task.reconcileInterval': key({
    description: 'How often masters republish stale QUEUED tasks and promote due SCHEDULED ones.',
    default: '5s',
    parse: duration,
  }),
  'task.reconcileAfter': key({
    description: 'A QUEUED task that no worker claimed for this long is published again.',
    default: '60s',
    parse: duration,
  }),
  'task.shutdownGracePeriod': key({
    description:
      'When a master with the in-process worker is stopped (Ctrl-C, SIGTERM), how long steps still running may ' +
      'take to finish before they are interrupted (their tasks then end FAILED, to be started again later).',
    default: '30s',
    parse: duration,
  }),
  'db.url': key({
    description: 'Database: file:PATH (embedded, relative to the installation directory) or postgres://… in a cluster.',
    default: 'file:data/shipdeck.db',
    parse: databaseUrl,
  }),
  'worker.connectInterval': key({
    description: 'How often a worker re-resolves the masters it connects to.',
    default: '30s',
    parse: duration,
  }),
  'worker.heartbeatInterval': key({
    description: 'How often a worker tells every master over the command channel that it is alive, and what it runs.',
    default: '2s',
    parse: duration,
  }),
  'worker.gracePeriod': key({
    description:
      'A worker silent this long on its command channel counts as DISCONNECTED: the master closes the channel ' +
      'and shows its tasks as UNKNOWN until it is back. Longer than worker.heartbeatInterval.',
    default: '10s',
    parse: duration,
  }),
  'worker.pruneAfter': key({
    description:
      'A worker that drained and exited, or stayed DISCONNECTED, is forgotten (no longer listed) this long after ' +
      'it was last seen. `shipdeck workers remove` forgets one at once.',
    default: '24h',
    parse: duration,
  }),
  'worker.dnsServers': optionalKey({
    description:
      'DNS servers (ip or ip:port, comma-separated) a worker asks to resolve a -master name; default: the system resolver.',
    default: null,
    parse: dnsServerList,
  }),
  'channel.tls.cert': optionalKey({
    description:
      'Certificate (PEM) this process presents on the command channel; with channel.tls.key and channel.tls.ca it ' +
      'turns on mutual TLS. Relative to the installation directory.',
    default: null,
    parse: file,
  }),
  'channel.tls.key': optionalKey({
    description: 'Private key (PEM) of channel.tls.cert.',
    default: null,
    parse: file,
  }),
  'channel.tls.ca': optionalKey({
    description: 'CA certificate(s) (PEM) the other side of the command channel must chain to.',
    default: null,
    parse: file,
  }),
  'cluster.secret': optionalKey({
    description:
      'Shared secret of a cluster (at least 32 characters; best from SHIPDECK_CLUSTER_SECRET rather than the file): ' +
      'masters sign task messages with it and workers check the signatures; without channel.tls.* it also ' +
      'authenticates workers and masters to each other on the command channel (HMAC challenge/response). Never logged.',
    default: null,
    parse: secretText(32),
    secret: true,
  }),
  'cluster.insecure': key({
    description:
      'true: run a cluster with neither cluster.secret nor channel.tls.*: any client that reaches the worker port may ' +
      'register as a worker and any message in the task queue is executed. For isolated test set-ups only; ' +
      'a warning is logged at every start.',
    default: false,
    parse: boolean,
  }),
  'secrets.key': optionalKey({
    description:
      'Key that encrypts secret values at rest (secret dictionary entries, ssh passwords and keys): 32 random bytes in ' +
      'base64 (openssl rand -base64 32); best from SHIPDECK_SECRETS_KEY. Every master and worker needs the same key. ' +
      'Unset: secrets.keyFile. Never logged.',
    default: null,
    parse: secretsKey,
    secret: true,
  }),
  'secrets.keyFile': key({
    description:
      'File holding the secrets key (base64) when secrets.key is not set; relative to the installation directory. ' +
      'A master creates it (mode 0600) when it is missing; a worker only reads it.',
    default: 'data/secrets.key',
    parse: file,
  }),
  'export.dir': key({
    description: 'Reports and exports; every master and worker must be able to read and write it.',
    default: 'export',
    parse: directory,
  }),
  'log.level': key({
    description: `Least severe level logged: ${LOG_LEVELS.join(', ')}.`,
    default: 'info',
    parse: oneOf(LOG_LEVELS),
  }),
  'log.format': key({
    description:
      'text: readable lines; json: one JSON object per line (timestamp, level, component, message and, where known, ' +
      'taskId, stepPath, requestId, workerId) for log collectors.',
    default: 'text',
    parse: oneOf(LOG_FORMATS),
  }),
} as const;

/** A configuration key path, e.g. `task.queue.url`. */
export type ConfigKey = keyof typeof CONFIG_KEYS;

/** The compiled value of every key. */
export type ConfigValues = {
  [K in ConfigKey]: (typeof CONFIG_KEYS)[K] extends KeySpec<infer T> ? T : never;
};

/**
 * `SHIPDECK_*` environment variables that are not configuration keys but are read elsewhere: the
 * installation directory, the CLI's master URL, API token and login password, the first admin's
 * password, the cluster secret, and what the Docker image's entrypoint reads for its workers
 * (docker/entrypoint.sh). A shell that runs both the CLI and a master has them set: no warning for them.
 */
export const OTHER_ENV_VARS: readonly string[] = [
  'SHIPDECK_HOME',
  'SHIPDECK_SERVER',
  'SHIPDECK_TOKEN',
  'SHIPDECK_PASSWORD',
  'SHIPDECK_ADMIN_PASSWORD',
  'SHIPDECK_CLUSTER_SECRET',
  'SHIPDECK_WORKER_HEALTH_PORT',
  'SHIPDECK_WORKER_NAME_PREFIX',
];

/**
 * Prefixes of `SHIPDECK_*` variables of the test, benchmark and fault-injection tooling, and of the
 * broker URLs `artemis-broker/start-local env` prints for a shell to export: never configuration.
 */
export const TOOLING_ENV_PREFIXES: readonly string[] = [
  'SHIPDECK_TEST_',
  'SHIPDECK_E2E_',
  'SHIPDECK_BENCH_',
  'SHIPDECK_FAULT_',
  'SHIPDECK_SSH_TEST_',
  'SHIPDECK_ARTEMIS_',
];

/** The environment variable overriding `key`: `task.inProcessWorker` → `SHIPDECK_TASK_IN_PROCESS_WORKER`. */
export function envVarName(key: string): string {
  return `SHIPDECK_${key
    .split('.')
    .map((segment) => segment.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

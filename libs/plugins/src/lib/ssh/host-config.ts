import { isAbsolute } from 'node:path';
import { FieldError } from '@shipdeck/errors';
import { PropertyReader } from '../properties';

/** The name of the host type. */
export const SSH_HOST_TYPE = 'ssh';

const DEFAULT_PORT = 22;
const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 4;
const MAX_CONNECTIONS_LIMIT = 64;
/** `SHA256:` and the unpadded base64 of 32 bytes, as `ssh-keygen -lf` prints it. */
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}$/;
/** A POSIX user name; it is passed to sudo, so nothing a shell would interpret. */
const USER_NAME = /^[a-z_][a-z0-9_.-]{0,31}\$?$/i;

/** How to reach and log in to one SSH server (the target or its jump host). */
export interface SshEndpoint {
  address: string;
  port: number;
  username: string;
  /** A private key file on the worker; read at each connection. */
  privateKeyPath?: string;
  /** A private key in OpenSSH or PEM format (a secret). */
  privateKey?: string;
  /** Decrypts the private key (a secret). */
  passphrase?: string;
  /** Password authentication (a secret). */
  password?: string;
  /** Expected host key, `SHA256:…`; when absent the worker's trusted keys (trust-host-key) decide. */
  hostKeyFingerprint?: string;
}

/** The properties of an `ssh` host, with every default applied and durations in milliseconds. */
export interface SshHostConfig extends SshEndpoint {
  /** A bastion the connection goes through (a direct-tcpip channel). */
  jumpHost?: SshEndpoint;
  /** Commands run as this user through `sudo -n -u`; file ownership is changed through it too. */
  sudo?: string;
  /** Connecting, including the handshake and authentication. Default 20s. */
  connectTimeoutMs: number;
  /** Default timeout of remote commands; a step's own `timeout` wins. None by default. */
  commandTimeoutMs?: number;
  /** An unused connection is closed after this long. Default 60s. */
  idleTimeoutMs: number;
  /** At most this many connections to the host from one worker at once. Default 4. */
  maxConnections: number;
  /** When given, `file.File` writes and removes only under these remote directories (after realpath). */
  allowedRoots?: string[];
}

const ENDPOINT_PROPERTIES = [
  'address',
  'port',
  'username',
  'privateKeyPath',
  'privateKey',
  'passphrase',
  'password',
  'hostKeyFingerprint',
] as const;

/** Properties whose values are secrets: checked here so that no message ever repeats them. */
const SECRET_PROPERTIES = ['privateKey', 'passphrase', 'password'] as const;

/** Every secret property of an ssh host, its jump host's included: stored encrypted, masked by the API. */
export const SSH_SECRET_PROPERTIES: readonly string[] = [...SECRET_PROPERTIES, ...SECRET_PROPERTIES.map((name) => `jumpHost.${name}`)];

/**
 * The values with every non-string secret replaced by an empty string, and one error per such
 * secret; the generic reader would quote the value in its message.
 */
function screenSecrets(values: Record<string, unknown>, field: (name: string) => string): { values: Record<string, unknown>; errors: FieldError[] } {
  const screened = { ...values };
  const errors: FieldError[] = [];
  for (const name of SECRET_PROPERTIES) {
    const value = screened[name];
    if (value === undefined || value === null || typeof value === 'string') continue;
    errors.push({ field: field(name), message: 'must be a string' });
    screened[name] = '';
  }
  return { values: screened, errors };
}

function readEndpoint(reader: PropertyReader): SshEndpoint {
  const endpoint: SshEndpoint = {
    address: reader.string('address', true),
    port: reader.integer('port', 1, 65_535) ?? DEFAULT_PORT,
    username: reader.string('username', true),
    privateKeyPath: reader.absolutePath('privateKeyPath'),
    privateKey: reader.string('privateKey'),
    passphrase: reader.string('passphrase'),
    password: reader.string('password'),
    hostKeyFingerprint: reader.string('hostKeyFingerprint'),
  };
  return endpoint;
}

function endpointProblems(endpoint: SshEndpoint, field: (name: string) => string, lenient: boolean): FieldError[] {
  const problems: FieldError[] = [];
  const deferred = (value: string | undefined) => lenient && value !== undefined && value.includes('{{');
  if (endpoint.address === '') problems.push({ field: field('address'), message: 'must not be empty' });
  if (endpoint.username === '') problems.push({ field: field('username'), message: 'must not be empty' });
  if (endpoint.privateKeyPath !== undefined && endpoint.privateKey !== undefined) {
    problems.push({ field: field('privateKey'), message: 'give privateKey or privateKeyPath, not both' });
  }
  if (endpoint.privateKeyPath === undefined && endpoint.privateKey === undefined && endpoint.password === undefined) {
    problems.push({ field: field('privateKeyPath'), message: 'one of privateKeyPath, privateKey or password is required' });
  }
  const fingerprint = endpoint.hostKeyFingerprint;
  if (fingerprint !== undefined && !deferred(fingerprint) && !FINGERPRINT.test(fingerprint)) {
    problems.push({
      field: field('hostKeyFingerprint'),
      // Never echo the value: a misplaced secret must not end up in an error message.
      message: 'must be a SHA-256 fingerprint as `ssh-keygen -lf` prints it (SHA256: and 43 base64 characters)',
    });
  }
  return problems;
}

function mapValue(values: Record<string, unknown>, name: string): Record<string, unknown> | undefined | 'invalid' {
  const value = Object.hasOwn(values, name) ? values[name] : undefined;
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return 'invalid';
  return value as Record<string, unknown>;
}

/**
 * Reads the properties of an `ssh` host. `lenient` lets values containing `{{…}}` pass format
 * checks (hosts are not resolved against a dictionary today, but a host definition may be
 * checked before its values are final). Error messages never contain property values.
 */
export function readSshHost(
  values: Record<string, unknown>,
  fieldPrefix: string,
  lenient: boolean,
): { config: SshHostConfig; errors: FieldError[] } {
  const field = (name: string) => (fieldPrefix ? `${fieldPrefix}.${name}` : name);
  const errors: FieldError[] = [];
  const { jumpHost: _jump, allowedRoots: _roots, ...rest } = values;
  const own = screenSecrets(rest, field);
  errors.push(...own.errors);
  const reader = new PropertyReader(own.values, fieldPrefix, lenient);
  const endpoint = readEndpoint(reader);
  const sudo = reader.string('sudo');
  const config: SshHostConfig = {
    ...endpoint,
    sudo,
    connectTimeoutMs: reader.duration('connectTimeout', true) ?? DEFAULT_CONNECT_TIMEOUT_MS,
    commandTimeoutMs: reader.duration('commandTimeout', true),
    idleTimeoutMs: reader.duration('idleTimeout', true) ?? DEFAULT_IDLE_TIMEOUT_MS,
    maxConnections: reader.integer('maxConnections', 1, MAX_CONNECTIONS_LIMIT) ?? DEFAULT_MAX_CONNECTIONS,
  };
  reader.rejectUnknown('an ssh host (also jumpHost, allowedRoots)');
  errors.push(...reader.errors, ...endpointProblems(endpoint, field, lenient));
  if (sudo !== undefined && !USER_NAME.test(sudo)) errors.push({ field: field('sudo'), message: 'must be a user name' });

  const jump = mapValue(values, 'jumpHost');
  if (jump === 'invalid') errors.push({ field: field('jumpHost'), message: `must be a map of ${ENDPOINT_PROPERTIES.join(', ')}` });
  else if (jump !== undefined) {
    const jumpField = (name: string) => field(`jumpHost.${name}`);
    const screened = screenSecrets(jump, jumpField);
    errors.push(...screened.errors);
    const jumpReader = new PropertyReader(screened.values, field('jumpHost'), lenient);
    const jumpEndpoint = readEndpoint(jumpReader);
    jumpReader.rejectUnknown('a jump host');
    errors.push(...jumpReader.errors, ...endpointProblems(jumpEndpoint, jumpField, lenient));
    config.jumpHost = jumpEndpoint;
  }

  const roots = Object.hasOwn(values, 'allowedRoots') ? values.allowedRoots : undefined;
  if (roots !== undefined && roots !== null) {
    if (!Array.isArray(roots) || roots.length === 0 || !roots.every((root) => typeof root === 'string' && isAbsolute(root))) {
      errors.push({ field: field('allowedRoots'), message: 'must be a non-empty list of absolute paths' });
    } else {
      config.allowedRoots = roots as string[];
    }
  }
  return { config, errors };
}

/**
 * The configuration of the host a step runs against, from `ctx.step.target.properties`.
 *
 * @throws Error naming every bad field (never a value) when the properties are invalid.
 */
export function sshHostConfig(hostName: string, properties: Record<string, unknown> | undefined): SshHostConfig {
  const { config, errors } = readSshHost(properties ?? {}, '', false);
  if (errors.length > 0) {
    throw new Error(`invalid properties of ssh host ${hostName}: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`);
  }
  return config;
}

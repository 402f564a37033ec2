import { readFile } from 'node:fs/promises';
import type { Host } from '@shipdeck/domain';
import type { Flags } from './flags';
import { isTerminal, prompt, readFirstLine } from './prompt';
import { CliError, Session, messageOf, seg } from './session';

/** Flags of `hosts put` that set one ssh host property each, as strings. */
const TEXT_PROPERTIES = {
  address: 'address',
  username: 'username',
  'identity-file': 'privateKeyPath',
  'host-key': 'hostKeyFingerprint',
  sudo: 'sudo',
  'connect-timeout': 'connectTimeout',
  'command-timeout': 'commandTimeout',
} as const satisfies Partial<Record<keyof Flags, string>>;

/** Flags of `hosts put` whose value is a whole number. */
const NUMBER_PROPERTIES = { port: 'port', 'max-connections': 'maxConnections' } as const satisfies Partial<Record<keyof Flags, string>>;

/** Secret properties (docs/ssh.md): never taken from the command line, where `ps` and shell history show them. */
const SECRET_PROPERTIES: Readonly<Record<string, string>> = {
  password: '--password-stdin',
  passphrase: '--passphrase-stdin',
  privateKey: '--private-key-file FILE',
};

/** What a jump host copies of the ssh host it names: how to reach and log in to it, no secret value. */
const JUMP_PROPERTIES = ['address', 'port', 'username', 'privateKeyPath', 'hostKeyFingerprint'];

/**
 * The properties `hosts put` sends: `--property KEY=VALUE` pairs (a value starting with `[` or `{`
 * is JSON), the ssh flags, `--allowed-root`, and the secrets, read from standard input or a prompt.
 */
export async function hostProperties(s: Session, flags: Flags): Promise<Record<string, unknown>> {
  const properties: Record<string, unknown> = {};
  for (const pair of flags.property ?? []) {
    const [key, value] = splitPair(pair, '--property');
    if (SECRET_PROPERTIES[key]) throw new CliError(`${key} is a secret: give it with ${SECRET_PROPERTIES[key]}, not on the command line`);
    properties[key] = /^[[{]/.test(value) ? parseJson(key, value) : value;
  }
  for (const [flag, property] of Object.entries(TEXT_PROPERTIES)) {
    const value = flags[flag as keyof typeof TEXT_PROPERTIES];
    if (value !== undefined) properties[property] = value;
  }
  for (const [flag, property] of Object.entries(NUMBER_PROPERTIES)) {
    const value = flags[flag as keyof typeof NUMBER_PROPERTIES];
    if (value === undefined) continue;
    if (!/^\d+$/.test(value)) throw new CliError(`--${flag} must be a whole number, got ${JSON.stringify(value)}`);
    properties[property] = Number(value);
  }
  if (flags['allowed-root']) properties['allowedRoots'] = flags['allowed-root'];
  if (flags['jump-host'] !== undefined) properties['jumpHost'] = await jumpHost(s, flags['jump-host']);
  if (flags['private-key-file'] !== undefined) {
    const file = flags['private-key-file'];
    properties['privateKey'] = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new CliError(`cannot read the private key file ${file}: ${messageOf(error)}`);
    });
  }
  const secrets = (['password', 'passphrase'] as const).filter((name) => flags[`${name}-stdin`] === true);
  if (secrets.length > 1 && !isTerminal(s.stdin)) {
    throw new CliError('--password-stdin and --passphrase-stdin: standard input carries one secret; give the other at a prompt (run on a terminal)');
  }
  for (const name of secrets) properties[name] = await readSecret(s, name);
  return properties;
}

/** The endpoint of the ssh host `name`, as a `jumpHost` map. */
async function jumpHost(s: Session, name: string): Promise<Record<string, unknown>> {
  const { body: host } = await s.client.json<Host>('GET', `/hosts/${seg(name)}`);
  if (host.type !== 'ssh') throw new CliError(`--jump-host ${name}: the jump host must be an ssh host, ${name} is a ${host.type} host`);
  if (host.properties['privateKeyPath'] === undefined) {
    throw new CliError(`--jump-host ${name}: only a host that logs in with a key file on the worker (--identity-file) can serve as a jump host`);
  }
  return Object.fromEntries(JUMP_PROPERTIES.filter((key) => host.properties[key] !== undefined).map((key) => [key, host.properties[key]]));
}

/** A secret from a prompt on a terminal, else from the first line of standard input. */
async function readSecret(s: Session, name: string): Promise<string> {
  let value: string;
  if (isTerminal(s.stdin)) value = await prompt(s.stdin, s.stderr, `${name[0].toUpperCase()}${name.slice(1)}: `, true);
  else if (s.stdin) value = await readFirstLine(s.stdin);
  else throw new CliError(`--${name}-stdin: no standard input to read the ${name} from`);
  if (value === '') throw new CliError(`--${name}-stdin: the ${name} is empty`);
  return value;
}

/** `KEY=VALUE` → `[KEY, VALUE]`. */
export function splitPair(pair: string, flag: string): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new CliError(`${flag} expects KEY=VALUE, got ${JSON.stringify(pair)}`);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

function parseJson(key: string, value: string): unknown {
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new CliError(`--property ${key}: a value starting with [ or { must be JSON: ${messageOf(error)}`);
  }
}

/** Every flag the CLI knows, with its shape; a command accepts a subset (see `COMMANDS` in args.ts). */
export const FLAGS = {
  server: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  wait: { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  application: { type: 'string' },
  environment: { type: 'string' },
  skip: { type: 'string', multiple: true },
  'pause-before': { type: 'string', multiple: true },
  state: { type: 'string' },
  type: { type: 'string' },
  worker: { type: 'string' },
  tag: { type: 'string', multiple: true },
  'allowed-root': { type: 'string', multiple: true },
  host: { type: 'string', multiple: true },
  set: { type: 'string', multiple: true },
  secret: { type: 'string', multiple: true },
  'keep-secrets': { type: 'boolean' },
  user: { type: 'string' },
  role: { type: 'string' },
  env: { type: 'string', multiple: true },
  expires: { type: 'string' },
  outcome: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  // hosts put --type ssh (docs/ssh.md); secrets come from standard input, never from flags.
  address: { type: 'string' },
  port: { type: 'string' },
  username: { type: 'string' },
  'identity-file': { type: 'string' },
  'private-key-file': { type: 'string' },
  'password-stdin': { type: 'boolean' },
  'passphrase-stdin': { type: 'boolean' },
  'host-key': { type: 'string' },
  'jump-host': { type: 'string' },
  sudo: { type: 'string' },
  'connect-timeout': { type: 'string' },
  'command-timeout': { type: 'string' },
  'max-connections': { type: 'string' },
  property: { type: 'string', multiple: true },
  param: { type: 'string', multiple: true },
} as const;

export type FlagName = keyof typeof FLAGS;

/** Flags every command takes. */
export const GLOBAL_FLAGS: readonly FlagName[] = ['server', 'json', 'help', 'version'];

type FlagValue<F> = F extends { multiple: true } ? string[] : F extends { type: 'boolean' } ? boolean : string;

/** Parsed flag values: strings, booleans, or string lists for repeatable flags. */
export type Flags = { -readonly [K in FlagName]?: FlagValue<(typeof FLAGS)[K]> };

import { parseArgs } from 'node:util';
import { FLAGS, FlagName, Flags, GLOBAL_FLAGS } from './flags';
import { messageOf } from './session';

export { FLAGS, GLOBAL_FLAGS, type FlagName, type Flags } from './flags';

/** A client command: its words, its positional arguments and the flags it takes besides the global ones. */
export interface CommandSpec {
  /** e.g. `['tasks', 'list']`. */
  words: readonly string[];
  /** Names of the positional arguments, in order, as shown in the usage. */
  args: readonly string[];
  flags: readonly FlagName[];
  /** The flags part of the usage line, e.g. `[--wait] [--skip PATH]...`. */
  flagsUsage?: string;
  summary: string;
}

/** Every client command (spec §7). */
export const COMMANDS = [
  { words: ['import'], args: ['FILE'], flags: [], summary: 'import a package manifest (.yaml, .yml or .json)' },
  {
    words: ['deploy'],
    args: ['APP', 'VERSION', 'ENV'],
    flags: ['wait', 'skip', 'pause-before'],
    flagsUsage: '[--wait] [--skip PATH]... [--pause-before PATH]...',
    summary: 'deploy an application version to an environment and start the task',
  },
  {
    words: ['undeploy'],
    args: ['APP', 'ENV'],
    flags: ['wait'],
    flagsUsage: '[--wait]',
    summary: 'remove an application from an environment and start the task',
  },
  {
    words: ['tasks', 'list'],
    args: [],
    flags: ['state', 'type', 'worker'],
    flagsUsage: '[--state STATE] [--type DEPLOYMENT|CONTROL] [--worker ID]',
    summary: 'list current tasks',
  },
  { words: ['tasks', 'show'], args: ['ID'], flags: [], summary: 'show a task with its plan and step states (ID may be a unique prefix)' },
  { words: ['tasks', 'start'], args: ['ID'], flags: ['wait'], flagsUsage: '[--wait]', summary: 'start (or retry) a task' },
  { words: ['tasks', 'stop'], args: ['ID'], flags: [], summary: 'stop a task after its current step(s)' },
  { words: ['tasks', 'abort'], args: ['ID'], flags: [], summary: 'abort a task, interrupting its current step(s)' },
  { words: ['tasks', 'cancel'], args: ['ID'], flags: [], summary: 'cancel a task that is not executing' },
  { words: ['tasks', 'archive'], args: ['ID'], flags: [], summary: 'archive an executed task (records the deployment)' },
  { words: ['tasks', 'schedule'], args: ['ID', 'AT'], flags: [], summary: 'start a task at an ISO 8601 time' },
  { words: ['tasks', 'skip'], args: ['ID', 'PATH'], flags: [], summary: 'skip a step' },
  { words: ['tasks', 'unskip'], args: ['ID', 'PATH'], flags: [], summary: 'no longer skip a step' },
  { words: ['tasks', 'pause-before'], args: ['ID', 'PATH'], flags: [], summary: 'pause the task before a step' },
  {
    words: ['tasks', 'log'],
    args: ['ID', 'PATH'],
    flags: ['follow'],
    flagsUsage: '[--follow]',
    summary: "print a step's log; --follow prints its output as it arrives until the step ends",
  },
  { words: ['tasks', 'remove'], args: ['ID'], flags: [], summary: 'remove a task shown UNKNOWN from the monitor' },
  {
    words: ['hosts', 'put'],
    args: ['NAME'],
    flags: [
      'type', 'tag', 'allowed-root', 'property', 'address', 'port', 'username', 'identity-file', 'private-key-file',
      'password-stdin', 'passphrase-stdin', 'host-key', 'jump-host', 'sudo', 'connect-timeout', 'command-timeout', 'max-connections',
    ],
    flagsUsage:
      '[--type local|ssh] [--tag TAG]... [--allowed-root DIR]... [--property KEY=VALUE]...\n' +
      '      ssh: --address A [--port P] --username U (--identity-file PATH | --private-key-file FILE | --password-stdin)\n' +
      '      [--passphrase-stdin] [--host-key SHA256:…] [--jump-host HOST] [--sudo USER] [--connect-timeout D]\n' +
      '      [--command-timeout D] [--max-connections N]',
    summary:
      'create or replace a host; --identity-file is a key file on the worker, --private-key-file a local key file sent ' +
      'as a secret value; secrets are read from standard input (or a prompt), never from the command line',
  },
  { words: ['hosts', 'show'], args: ['NAME'], flags: [], summary: 'show a host with its properties' },
  { words: ['hosts', 'list'], args: [], flags: [], summary: 'list hosts' },
  {
    words: ['hosts', 'trust-host-key'],
    args: ['NAME'],
    flags: ['host-key'],
    flagsUsage: '[--host-key SHA256:…]',
    summary: 'show the key an ssh host presents; with --host-key (the key confirmed) the worker records it as trusted',
  },
  {
    words: ['control'],
    args: ['HOST', 'CONTROL'],
    flags: ['param', 'wait'],
    flagsUsage: '[--param KEY=VALUE]... [--wait]',
    summary: 'run a control of a host (checkConnection, trust-host-key…): create the control task and start it',
  },
  { words: ['hosts', 'delete'], args: ['NAME'], flags: [], summary: 'delete a host' },
  {
    words: ['environments', 'put'],
    args: ['NAME'],
    flags: ['host', 'set', 'secret', 'keep-secrets'],
    flagsUsage: '--host HOST... [--set KEY=VALUE]... [--secret KEY[=VALUE]]... [--keep-secrets]',
    summary: 'create or replace an environment',
  },
  { words: ['environments', 'list'], args: [], flags: [], summary: 'list environments' },
  { words: ['environments', 'deployed'], args: ['ENV'], flags: [], summary: 'list the applications deployed to an environment' },
  { words: ['environments', 'delete'], args: ['NAME'], flags: [], summary: 'delete an environment nothing is deployed to' },
  { words: ['applications', 'list'], args: [], flags: [], summary: 'list imported applications and their versions' },
  {
    words: ['archive', 'list'],
    args: [],
    flags: ['application', 'environment'],
    flagsUsage: '[--application APP] [--environment ENV]',
    summary: 'list archived (DONE and CANCELLED) tasks, newest first',
  },
  { words: ['workers', 'list'], args: [], flags: [], summary: 'list workers as this master sees them' },
  { words: ['workers', 'drain'], args: ['ID'], flags: [], summary: 'let a worker finish its tasks, then exit (ID or NAME)' },
  { words: ['workers', 'remove'], args: ['ID'], flags: [], summary: 'forget a disconnected or drained worker (ID or NAME)' },
  { words: ['workers', 'restore-ghost-tasks'], args: [], flags: [], summary: 'make every worker re-register its ghost tasks' },
  // Users, tokens and audit (docs/security.md); implemented in auth-commands.ts.
  { words: ['login'], args: [], flags: ['user'], flagsUsage: '[--user NAME]', summary: 'log in: create an API token and store it for this server (password from a prompt, $SHIPDECK_PASSWORD or stdin)' },
  { words: ['logout'], args: [], flags: [], summary: 'revoke and forget the token stored for this server' },
  { words: ['users', 'list'], args: [], flags: [], summary: 'list users (admin)' },
  { words: ['users', 'add'], args: ['NAME'], flags: ['role', 'env'], flagsUsage: '--role viewer|deployer|admin [--env ENV]...', summary: 'create a user (password from a prompt or stdin); --env limits a deployer to environments' },
  { words: ['users', 'remove'], args: ['NAME'], flags: [], summary: 'delete a user with their tokens and sessions (admin)' },
  { words: ['tokens', 'list'], args: [], flags: [], summary: 'list your API tokens (an admin sees everyone\'s)' },
  { words: ['tokens', 'create'], args: ['NAME'], flags: ['expires'], flagsUsage: '[--expires TIME]', summary: 'create an API token and print it (shown only this once)' },
  { words: ['tokens', 'revoke'], args: ['ID'], flags: [], summary: 'revoke an API token' },
  { words: ['audit'], args: [], flags: ['user', 'outcome', 'limit', 'cursor'], flagsUsage: '[--user NAME] [--outcome succeeded|failed|denied] [--limit N] [--cursor C]', summary: 'show the audit trail, newest first (admin)' },
  { words: ['help'], args: [], flags: [], flagsUsage: '[COMMAND]', summary: 'show this help, or the usage of one command' },
] as const satisfies readonly CommandSpec[];

/** The name of a command: its words joined by a space, e.g. `tasks list`. */
export type CommandName = (typeof COMMANDS)[number] extends infer C
  ? C extends { words: readonly [infer A extends string] }
    ? A
    : C extends { words: readonly [infer A extends string, infer B extends string] }
      ? `${A} ${B}`
      : never
  : never;

/** A command line, understood: a client command, or `version` for `--version`. */
export interface Invocation {
  command: CommandName | 'version';
  /** Positional arguments by name (`APP`, `ID`…). */
  args: Record<string, string>;
  flags: Flags;
}

/** A command line that cannot be understood (exit 64, usage on stderr). */
export class UsageError extends Error {
  constructor(
    message: string,
    /** The command the user was after, to show its usage rather than the whole list. */
    readonly command?: CommandSpec,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Parses a command line (without the node and script names). Flags may come anywhere, in
 * `--flag value` or `--flag=value` form; `--help`/`-h` anywhere asks for help. Throws
 * {@link UsageError} for an unknown command or flag, a flag the command does not take, or a
 * wrong number of arguments.
 */
export function parseCommandLine(argv: readonly string[]): Invocation {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...argv], options: FLAGS, strict: true, allowPositionals: true }) as typeof parsed;
  } catch (error) {
    throw new UsageError(parseArgsMessage(error));
  }
  const { values: flags, positionals } = parsed;
  if (positionals.length === 0) {
    if (flags.help) return { command: 'help', args: {}, flags };
    if (flags.version) return { command: 'version', args: {}, flags };
    throw new UsageError('no command given');
  }
  if (positionals[0] === 'help') {
    // `shipdeck help deploy`, `shipdeck help tasks list`: the usage of that command.
    const asked = positionals.slice(1);
    if (asked.length === 0) return { command: 'help', args: {}, flags };
    if (asked[0] === 'master' || asked[0] === 'worker') return { command: 'help', args: { COMMAND: asked[0] }, flags };
    const about = findCommand(asked) ?? groupOf(asked[0]);
    if (!about) throw new UsageError(unknownCommandMessage(asked));
    return { command: 'help', args: { COMMAND: about.words.join(' ') }, flags };
  }
  const spec = findCommand(positionals);
  if (!spec) {
    if (flags.help && groupOf(positionals[0])) return { command: 'help', args: { COMMAND: positionals[0] }, flags };
    throw new UsageError(unknownCommandMessage(positionals));
  }
  if (flags.help) return { command: 'help', args: { COMMAND: spec.words.join(' ') }, flags };
  if (flags.version) return { command: 'version', args: {}, flags };

  const accepted = new Set<string>([...GLOBAL_FLAGS, ...spec.flags]);
  for (const name of Object.keys(flags)) {
    if (!accepted.has(name)) throw new UsageError(`${spec.words.join(' ')} does not take --${name}`, spec);
  }
  const rest = positionals.slice(spec.words.length);
  if (rest.length !== spec.args.length) {
    const which = rest.length < spec.args.length ? `missing ${spec.args.slice(rest.length).join(' ')}` : `unexpected ${rest.slice(spec.args.length).join(' ')}`;
    throw new UsageError(`${spec.words.join(' ')}: ${which}`, spec);
  }
  const args = Object.fromEntries(spec.args.map((name, i) => [name, rest[i]]));
  return { command: spec.words.join(' ') as CommandName, args, flags };
}

function findCommand(positionals: readonly string[]): CommandSpec | undefined {
  const specs: readonly CommandSpec[] = COMMANDS;
  return (
    specs.find((c) => c.words.length === 2 && c.words[0] === positionals[0] && c.words[1] === positionals[1]) ??
    specs.find((c) => c.words.length === 1 && c.words[0] === positionals[0])
  );
}

/** A group of two-word commands (`tasks`), as a spec whose words are the group's name alone. */
function groupOf(word: string): CommandSpec | undefined {
  const specs: readonly CommandSpec[] = COMMANDS;
  return specs.some((c) => c.words.length === 2 && c.words[0] === word)
    ? { words: [word], args: [], flags: [], summary: '' }
    : undefined;
}

/** Words a command line may start with: one-word commands, command groups, and the server processes. */
function firstWords(): string[] {
  const specs: readonly CommandSpec[] = COMMANDS;
  return [...new Set([...specs.map((c) => c.words[0]), 'master', 'worker'])];
}

function unknownCommandMessage(positionals: readonly string[]): string {
  const [first, second] = positionals;
  const specs: readonly CommandSpec[] = COMMANDS;
  const group = specs.filter((c) => c.words.length === 2 && c.words[0] === first);
  if (group.length === 0) {
    const suggestion = closest(first, firstWords());
    return `unknown command ${first}${suggestion ? `; did you mean ${suggestion}?` : ''}`;
  }
  const subcommands = group.map((c) => c.words[1]);
  const choices = subcommands.join(', ');
  if (second === undefined) return `${first} needs a subcommand: ${choices}`;
  const suggestion = closest(second, subcommands);
  return `unknown command ${first} ${second}${suggestion ? `; did you mean ${first} ${suggestion}?` : ''} (try: ${choices})`;
}

/**
 * The candidate closest to `word` by edit distance, if close enough to be a likely typo (at most
 * a third of its length, and at least one edit allowed), or one that `word` is a prefix of.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (best && best.distance <= Math.max(1, Math.floor(word.length / 3))) return best.candidate;
  const prefixed = candidates.filter((c) => c.startsWith(word));
  return word.length >= 2 && prefixed.length === 1 ? prefixed[0] : undefined;
}

/** Levenshtein distance, with a transposition of neighbours counting as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

function parseArgsMessage(error: unknown): string {
  const message = messageOf(error);
  // node's messages end with advice about "--" that does not apply to this CLI.
  const short = message.split('. To specify')[0].replace(/^Option '(-\w, )?(--[\w-]+)[^']*'/, "option '$2'");
  return short.charAt(0).toLowerCase() + short.slice(1);
}

/** `shipdeck master --help`: the server process's usage. */
export const MASTER_USAGE = [
  'usage: shipdeck master',
  '',
  'Starts a master: the REST API (server.port, default 4516) and, in the embedded default',
  '(task.inProcessWorker: true), its own in-process worker. Configuration comes from',
  'conf/shipdeck.yaml and SHIPDECK_* environment variables (see conf/shipdeck.yaml).',
  '',
  'Options:',
  '  --strict    an unknown configuration key or SHIPDECK_* variable is an error, not a warning',
  '  -h, --help  show this help',
  '',
  'Ctrl-C / SIGTERM: the master stops taking tasks; steps still running get task.shutdownGracePeriod',
  '(default 30s) to finish, then they are interrupted and their tasks end FAILED (restart them later).',
  '',
].join('\n');

/** `shipdeck worker --help`: the worker process's usage (spec §7). */
export const WORKER_USAGE = [
  'usage: shipdeck worker -master HOST:PORT [-master HOST:PORT]... -api URL [-name NAME] [-port PORT]',
  '                       [-hostname HOST] [-work-dir DIR]',
  '',
  'Starts a worker that connects to every master, takes tasks from the shared queue and executes them.',
  'Each flag may also be written --flag VALUE or --flag=VALUE.',
  '',
  '  -master HOST:PORT  a master\'s command channel (server.workerPort, default 8180); repeatable,',
  '                     or one -master NAME resolved by DNS (SRV or A records)',
  '  -api URL           the REST API of the masters (normally the load balancer)',
  '  -name NAME         a display name (`workers drain NAME` accepts it)',
  '  -port PORT         this worker\'s HTTP port (health, metrics); any free port when omitted',
  '  -hostname HOST     the host part of the address masters list',
  '  -work-dir DIR      recovery files and the worker id (default task.recovery.dir)',
  '  -h, --help         show this help',
  '',
].join('\n');

/**
 * The help text of a command name (`deploy`, `tasks list`), a group (`tasks`) or a server
 * process (`master`, `worker`); the whole usage when there is none.
 */
export function helpText(name: string | undefined): string {
  if (name === 'master') return MASTER_USAGE;
  if (name === 'worker') return WORKER_USAGE;
  const specs: readonly CommandSpec[] = COMMANDS;
  const only = name === undefined ? undefined : (specs.find((c) => c.words.join(' ') === name) ?? groupOf(name));
  return usage(only);
}

/** The usage text: every command with its arguments and flags. */
export function usage(only?: CommandSpec): string {
  const all: readonly CommandSpec[] = COMMANDS;
  // A group (`tasks`) shows each of its commands.
  const specs: readonly CommandSpec[] = only
    ? only.words.length === 1 && !all.includes(only)
      ? all.filter((c) => c.words[0] === only.words[0])
      : [only]
    : all;
  const body = specs
    .map((c) => {
      const synopsis = ['shipdeck', ...c.words, ...c.args, ...(c.flagsUsage ? [c.flagsUsage] : [])].join(' ');
      return `  ${synopsis}\n      ${c.summary}`;
    })
    .join('\n');
  if (only) return `usage:\n${body}\n`;
  return [
    'usage: shipdeck [--server URL] [--json] COMMAND [ARGS]',
    '',
    'Client commands (they talk to the REST API of a Shipdeck master):',
    body,
    '',
    'Options:',
    '  --server URL  the master to talk to (default: $SHIPDECK_SERVER, else http://localhost:4516)',
    '  --json        print results as JSON on stdout (errors stay on stderr)',
    '  -h, --help    show this help; COMMAND --help or help COMMAND shows one command',
    '  --version     print the version',
    '',
    'Task ids may be abbreviated to a unique prefix; workers may be named by id, id prefix or name.',
    'Server processes: shipdeck master, shipdeck worker -master HOST:PORT -api URL (each with --help).',
    'Exit codes: 0 success, 1 error or failed task, 2 master unreachable, 64 usage error.',
    '',
  ].join('\n');
}

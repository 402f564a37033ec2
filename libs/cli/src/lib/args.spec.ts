import { COMMANDS, parseCommandLine, usage, UsageError } from './args';

function usageErrorOf(argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`expected a UsageError for ${argv.join(' ')}`);
}

describe('parseCommandLine', () => {
  it('reads positionals by name and flags anywhere, repeated ones as lists', () => {
    const inv = parseCommandLine(['--server', 'http://m:1', 'deploy', 'app', '--skip', '1-1-1', '1.0', 'dev', '--skip=1-1-2', '--wait', '--json']);
    expect(inv).toEqual({
      command: 'deploy',
      args: { APP: 'app', VERSION: '1.0', ENV: 'dev' },
      flags: { server: 'http://m:1', skip: ['1-1-1', '1-1-2'], wait: true, json: true },
    });
  });

  it('reads two-word commands', () => {
    expect(parseCommandLine(['tasks', 'list', '--state', 'FAILED', '--type', 'CONTROL'])).toEqual({
      command: 'tasks list',
      args: {},
      flags: { state: 'FAILED', type: 'CONTROL' },
    });
    expect(parseCommandLine(['tasks', 'log', 't1', '1-1-2']).args).toEqual({ ID: 't1', PATH: '1-1-2' });
    expect(parseCommandLine(['workers', 'restore-ghost-tasks']).command).toBe('workers restore-ghost-tasks');
    expect(parseCommandLine(['environments', 'put', 'dev', '--host', 'a', '--host', 'b', '--set', 'K=V']).flags).toEqual({
      host: ['a', 'b'],
      set: ['K=V'],
    });
  });

  it('takes arguments after -- literally', () => {
    expect(parseCommandLine(['tasks', 'show', '--', '--odd-id']).args).toEqual({ ID: '--odd-id' });
  });

  it('answers help for help, --help and -h, with the command when one is named', () => {
    expect(parseCommandLine(['help']).command).toBe('help');
    expect(parseCommandLine(['--help']).command).toBe('help');
    expect(parseCommandLine(['deploy', '-h'])).toMatchObject({ command: 'help', args: { COMMAND: 'deploy' } });
  });

  it.each([
    [[], /no command/],
    [['frobnicate'], /unknown command frobnicate/],
    [['tasks'], /tasks needs a subcommand: list, show, start/],
    [['tasks', 'explode', 't1'], /unknown command tasks explode \(try: list/],
    [['tasks', 'list', '--color'], /unknown option '--color'/],
    [['hosts', 'list', '--wait'], /hosts list does not take --wait/],
    [['deploy', 'app', '1.0'], /deploy: missing ENV/],
    [['tasks', 'show', 'a', 'b'], /tasks show: unexpected b/],
    [['deploy', 'a', 'b', 'c', '--skip'], /option '--skip' argument missing/],
    [['tasks', 'list', '--json=yes'], /option '--json' does not take an argument/],
  ])('refuses %j', (argv, message) => {
    expect(usageErrorOf(argv).message).toMatch(message);
  });

  it('names the command a usage error is about', () => {
    expect(usageErrorOf(['deploy', 'x']).command?.words).toEqual(['deploy']);
  });
});

describe('usage', () => {
  it('lists every command with its arguments', () => {
    const text = usage();
    for (const c of COMMANDS) expect(text).toContain(['shipdeck', ...c.words, ...c.args].join(' '));
    expect(text).toContain('shipdeck deploy APP VERSION ENV [--wait] [--skip PATH]... [--pause-before PATH]...');
  });

  it('shows one command alone', () => {
    const only = COMMANDS.find((c) => c.words[0] === 'undeploy')!;
    expect(usage(only)).toBe('usage:\n  shipdeck undeploy APP ENV [--wait]\n      remove an application from an environment and start the task\n');
  });
});

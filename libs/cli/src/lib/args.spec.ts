import { COMMANDS, helpText, parseCommandLine, usage, UsageError } from './args';

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

  it('suggests the closest command for a typo', () => {
    expect(usageErrorOf(['deplyo', 'a', '1', 'dev']).message).toBe('unknown command deplyo; did you mean deploy?');
    expect(usageErrorOf(['taks', 'list']).message).toBe('unknown command taks; did you mean tasks?');
    expect(usageErrorOf(['tasks', 'lst']).message).toMatch(/^unknown command tasks lst; did you mean tasks list\?/);
    expect(usageErrorOf(['workers', 'remvoe', 'w']).message).toMatch(/did you mean workers remove\?/);
    expect(usageErrorOf(['zzzzzz']).message).toBe('unknown command zzzzzz');
  });

  it('answers help for `help COMMAND`, groups and the server processes, and version for --version', () => {
    expect(parseCommandLine(['help', 'deploy'])).toMatchObject({ command: 'help', args: { COMMAND: 'deploy' } });
    expect(parseCommandLine(['help', 'tasks', 'log'])).toMatchObject({ command: 'help', args: { COMMAND: 'tasks log' } });
    expect(parseCommandLine(['help', 'tasks'])).toMatchObject({ command: 'help', args: { COMMAND: 'tasks' } });
    expect(parseCommandLine(['tasks', '--help'])).toMatchObject({ command: 'help', args: { COMMAND: 'tasks' } });
    expect(parseCommandLine(['help', 'master'])).toMatchObject({ command: 'help', args: { COMMAND: 'master' } });
    expect(parseCommandLine(['--version']).command).toBe('version');
    expect(usageErrorOf(['help', 'deplyo']).message).toMatch(/did you mean deploy\?/);
  });

  it('reads the new commands and their flags', () => {
    expect(parseCommandLine(['tasks', 'log', 'ab12', '1-1-1', '--follow'])).toMatchObject({
      command: 'tasks log',
      args: { ID: 'ab12', PATH: '1-1-1' },
      flags: { follow: true },
    });
    expect(parseCommandLine(['environments', 'deployed', 'dev']).command).toBe('environments deployed');
    expect(parseCommandLine(['applications', 'list']).command).toBe('applications list');
    expect(parseCommandLine(['archive', 'list', '--application', 'a']).flags.application).toBe('a');
    expect(parseCommandLine(['workers', 'remove', 'local-1']).args).toEqual({ ID: 'local-1' });
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

  it('shows a group, and the server processes', () => {
    expect(helpText('tasks')).toContain('shipdeck tasks log ID PATH [--follow]');
    expect(helpText('tasks')).not.toContain('shipdeck deploy');
    expect(helpText('master')).toMatch(/^usage: shipdeck master/);
    expect(helpText('worker')).toContain('-work-dir DIR');
  });

  it('shows one command alone', () => {
    const only = COMMANDS.find((c) => c.words[0] === 'undeploy')!;
    expect(usage(only)).toBe('usage:\n  shipdeck undeploy APP ENV [--wait]\n      remove an application from an environment and start the task\n');
  });
});

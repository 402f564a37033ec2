import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { stepContext, tempDir } from '../../testing/step-context';
import { createRegistry } from '../loader';
import { PlaceholderLookup } from '../placeholders';
import { shellQuotingAt, shellVariableReference } from '../shell';
import { MAX_COMMAND_LOG_BYTES, placeholderVariable } from './command';

/*
 * Issue 9: a placeholder value never becomes shell code, and commands do not see the worker's
 * environment. Each case resolves a manifest's command as the planner does, then runs it in a
 * real /bin/sh.
 */

const registry = createRegistry();

function resolve(properties: Record<string, unknown>, dictionary: Record<string, string>): Record<string, unknown> {
  const lookup: PlaceholderLookup = (key) => dictionary[key];
  return registry.resolvePlaceholders('cmd.Command', properties, lookup, 'app');
}

async function runCreate(properties: Record<string, unknown>, workDir: string): Promise<string> {
  const ctx = stepContext('cmd.Command', 'CREATE', properties, workDir);
  await registry.executorFor('cmd.Command').execute(ctx);
  return ctx.output();
}

const HOSTILE_VALUES = [
  'a; touch pwned',
  '$(touch pwned)',
  '`touch pwned`',
  "'; touch pwned; '",
  '"; touch pwned; "',
  '\\"; touch pwned; #',
  'x\ntouch pwned',
  '${IFS}touch${IFS}pwned',
  "a' \"$(touch pwned)\" 'b",
  '*',
];

describe('placeholders in cmd.Command shell text', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it.each(HOSTILE_VALUES)('passes %j through every quoting context as data, never as code', async (value) => {
    const create = [
      'printf "[%s]\\n" {{V}}',
      'printf "[%s]\\n" "quoted {{V}} text"',
      "printf \"[%s]\\n\" 'single {{V}} text'",
      'printf "[%s]\\n" "$(printf %s {{V}})"',
      'printf "[%s]\\n" `printf %s {{V}}`',
    ].join('; ');
    const properties = resolve({ create }, { V: value });
    expect(properties['create']).not.toContain(value);
    const output = await runCreate(properties, dir.path);
    expect(existsSync(join(dir.path, 'pwned'))).toBe(false);
    expect(output).toContain(`[${value}]\n[quoted ${value} text]\n[single ${value} text]\n[${value}]\n`);
  });

  it('keeps the value a single word where it stands unquoted', async () => {
    const output = await runCreate(resolve({ create: 'for a in {{V}}; do echo "<$a>"; done' }, { V: 'one two' }), dir.path);
    expect(output).toContain('<one two>\n');
  });

  it('leaves other properties, and placeholders without a value, to plain substitution', () => {
    const lookup: PlaceholderLookup = (key) => (key === 'HOME_DIR' ? '/opt/a b' : undefined);
    const resolved = registry.resolvePlaceholders('cmd.Command', { create: 'ls {{MISSING}}', cwd: '{{HOME_DIR}}' }, lookup, 'app');
    expect(resolved).toEqual({ create: 'ls {{MISSING}}', cwd: '/opt/a b' });
  });

  it('gives different keys different variables', () => {
    const names = ['APP_HOME', 'app.home', 'app-home', 'app_home', 'X_6170702e686f6d65'].map(placeholderVariable);
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(name).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });

  it('reads the quoting at a position', () => {
    expect(shellQuotingAt('echo ')).toBe('unquoted');
    expect(shellQuotingAt('echo "a ')).toBe('double');
    expect(shellQuotingAt("echo 'a ")).toBe('single');
    expect(shellQuotingAt('echo "$(ls ')).toBe('unquoted');
    expect(shellQuotingAt('echo "$(ls) ')).toBe('double');
    expect(shellQuotingAt("echo \\' ")).toBe('unquoted');
    expect(shellVariableReference('V', "echo 'a ")).toBe(`'"\${V}"'`);
  });
});

describe('the environment of a command', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => {
    dir.cleanup();
    delete process.env['SHIPDECK_DB_URL'];
    delete process.env['SHIPDECK_TASK_QUEUE_URL'];
  });

  it('is minimal: nothing of Shipdeck, PATH and HOME kept, the step env added', async () => {
    process.env['SHIPDECK_DB_URL'] = 'postgres://shipdeck:s3cret@db/shipdeck';
    process.env['SHIPDECK_TASK_QUEUE_URL'] = 'amqp://guest:guest@mq';
    const output = await runCreate({ create: 'env', env: { MINE: 'yes' } }, dir.path);
    expect(output).not.toContain('s3cret');
    expect(output).not.toContain('SHIPDECK_');
    expect(output).toContain('MINE=yes');
    expect(output).toMatch(/^PATH=/m);
    expect(output).toMatch(/^SHELL=\/bin\/sh$/m);
  });
});

describe('the log of a command', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('keeps the first 1 MiB of output and notes how much was left out', async () => {
    const total = 3 * MAX_COMMAND_LOG_BYTES;
    const output = await runCreate({ create: `head -c ${total} /dev/zero | tr '\\0' x` }, dir.path);
    // The output is one run of x; the command line and directory name may hold an x or two.
    const logged = Math.max(...(output.match(/x+/g) ?? []).map((run) => run.length));
    expect(logged).toBe(MAX_COMMAND_LOG_BYTES);
    expect(output).toContain(`[output truncated: ${total - MAX_COMMAND_LOG_BYTES} more bytes not logged`);
    expect(output).toMatch(/command succeeded\n$/);
  });
});

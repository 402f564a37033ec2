import { readFileSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { stepContext, tempDir, waitFor } from '../../testing/step-context';
import { createRegistry } from '../loader';

const registry = createRegistry();
const command = registry.ciType('cmd.Command');
const run = (operation: string, properties: Record<string, unknown>, workDir: string) => {
  const ctx = stepContext('cmd.Command', operation, properties, workDir);
  return { ctx, done: registry.executorFor('cmd.Command').execute(ctx) };
};

/** Pids of the processes in process group `group`, with their command names, from /proc. */
function groupMembers(group: number): { pid: number; comm: string }[] {
  const members: { pid: number; comm: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const [, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === group) members.push({ pid: Number(entry), comm });
  }
  return members;
}

/**
 * Whether a process has ended. `kill(pid, 0)` failing with ESRCH is the proof; a zombie has ended
 * too but stays listed until its parent reaps it, and an orphan's new parent is PID 1, which in
 * some containers never reaps.
 */
function hasEnded(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].startsWith('Z');
  } catch {
    return true;
  }
}

function numberAfter(label: string, text: string): number {
  const match = new RegExp(`${label} (\\d+)`).exec(text);
  if (!match) throw new Error(`no "${label}" in ${JSON.stringify(text)}`);
  return Number(match[1]);
}

describe('cmd.Command', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('runs create and logs stdout and stderr', async () => {
    const { ctx, done } = run('CREATE', { create: 'echo to-out; echo to-err >&2' }, dir.path);
    await done;
    expect(ctx.output()).toContain('to-out\n');
    expect(ctx.output()).toContain('to-err\n');
  });

  it('runs create for MODIFY when there is no modify, and modify when there is', async () => {
    const first = run('MODIFY', { create: 'echo creating' }, dir.path);
    await first.done;
    expect(first.ctx.output()).toContain('creating');
    const second = run('MODIFY', { create: 'echo creating', modify: 'echo modifying' }, dir.path);
    await second.done;
    expect(second.ctx.output()).toContain('modifying');
    expect(second.ctx.output()).not.toContain('creating\n');
  });

  it('runs destroy for DESTROY, and has no DESTROY step without it', async () => {
    const subject = { deployable: 'app', host: 'local-1' };
    expect(command.describeStep('DESTROY', { ...subject, properties: { create: 'x' } })).toBeUndefined();
    expect(command.describeStep('DESTROY', { ...subject, properties: { create: 'x', destroy: 'y' } })).toBe(
      'Destroy app on local-1',
    );
    expect(command.describeStep('CREATE', { ...subject, properties: { create: 'x' } })).toBe('Create app on local-1');
    const { ctx, done } = run('DESTROY', { create: 'echo creating', destroy: 'echo destroying' }, dir.path);
    await done;
    expect(ctx.output()).toContain('destroying');
  });

  it('fails with the exit code when the command exits non-zero', async () => {
    const { ctx, done } = run('CREATE', { create: 'echo before; exit 3' }, dir.path);
    await expect(done).rejects.toThrow('command exited with code 3');
    expect(ctx.output()).toContain('before');
  });

  it('fails with the signal when the command is killed', async () => {
    const { done } = run('CREATE', { create: 'kill -TERM $$' }, dir.path);
    await expect(done).rejects.toThrow('command was killed by signal SIGTERM');
  });

  it('runs in cwd with env added to the environment', async () => {
    const { ctx, done } = run(
      'CREATE',
      { create: 'pwd; echo "greeting=$GREETING"; test -n "$PATH" && echo has-path', cwd: dir.path, env: { GREETING: 'hello world' } },
      '/',
    );
    await done;
    expect(ctx.output()).toContain(`${realpathSync(dir.path)}\n`);
    expect(ctx.output()).toContain('greeting=hello world\n');
    expect(ctx.output()).toContain('has-path\n');
  });

  it('runs in the work directory when there is no cwd', async () => {
    const { ctx, done } = run('CREATE', { create: 'pwd' }, dir.path);
    await done;
    expect(ctx.output()).toContain(`${realpathSync(dir.path)}\n`);
  });

  it('fails clearly when cwd does not exist', async () => {
    const { done } = run('CREATE', { create: 'true', cwd: join(dir.path, 'missing') }, dir.path);
    await expect(done).rejects.toThrow(/cannot run the command/);
  });

  it('kills the whole process group on abort, grandchildren included', async () => {
    const { ctx, done } = run('CREATE', { create: `echo "group $$"; sh -c 'sleep 100 & sleep 100; wait'` }, dir.path);
    const failed = done.catch((error: Error) => error);
    await waitFor(() => /group \d+/.test(ctx.output()), 'the command to start');
    const group = numberAfter('group', ctx.output());
    await waitFor(() => groupMembers(group).filter((m) => m.comm === 'sleep').length === 2, 'both sleeps to start');
    const pids = groupMembers(group).map((m) => m.pid);
    expect(pids.length).toBeGreaterThanOrEqual(3);

    ctx.controller.abort();

    expect(await failed).toEqual(new Error('aborted'));
    // The pipes close while the kernel is still tearing the processes down: allow it a moment.
    await waitFor(() => pids.every(hasEnded), 'every process of the group to end', 2_000);
    expect(() => process.kill(group, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
  });

  it('kills the command and its children on timeout', async () => {
    const { ctx, done } = run('CREATE', { create: 'sleep 100 & echo "child $!"; sleep 100', timeout: '300ms' }, dir.path);
    await expect(done).rejects.toThrow('timed out after 300ms');
    const child = numberAfter('child', ctx.output());
    await waitFor(() => hasEnded(child), 'the background child to end', 2_000);
  });

  it('leaves no background process behind after a normal exit', async () => {
    const { ctx, done } = run('CREATE', { create: 'sleep 100 & echo "child $!"' }, dir.path);
    await done;
    const child = numberAfter('child', ctx.output());
    await waitFor(() => hasEnded(child), 'the background child to end', 2_000);
  });

  it('does not start when the task is already aborted', async () => {
    const marker = join(dir.path, 'ran');
    const ctx = stepContext('cmd.Command', 'CREATE', { create: `touch ${marker}` }, dir.path);
    ctx.controller.abort();
    await expect(registry.executorFor('cmd.Command').execute(ctx)).rejects.toThrow(/aborted/);
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('validates its properties, letting placeholders through', () => {
    expect(
      command.validate({ create: 'x', timeout: '{{TIMEOUT}}', cwd: '{{APP_HOME}}', env: { A: '{{A}}' } }, 'deployables[2]'),
    ).toEqual([]);
    expect(command.validate({ create: 'x', timeout: 300 }, 'd')).toEqual([]);
    expect(command.validate({ create: 'x', timeout: '2h' }, 'd')).toEqual([]);
    expect(command.validate({ modify: 3, timeout: 'soon', cwd: 'relative', env: { PORT: 8080 }, extra: true }, 'deployables[2]')).toEqual([
      { field: 'deployables[2].create', message: 'is required' },
      { field: 'deployables[2].modify', message: 'must be a string, got number 3' },
      { field: 'deployables[2].cwd', message: 'must be an absolute path, got "relative"' },
      { field: 'deployables[2].env.PORT', message: 'must be a string (quote it in YAML), got number 8080' },
      {
        field: 'deployables[2].timeout',
        message: 'must be a duration like 300s, 5m, 2h or a number of seconds, got "soon"',
      },
      {
        field: 'deployables[2].extra',
        message: 'is not a property of cmd.Command (known: create, modify, destroy, cwd, env, timeout)',
      },
    ]);
  });

  it('is registered with default order 70', () => {
    expect(command.defaultOrder).toBe(70);
  });
});

import { readdirSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { stepContext, tempDir } from '../../testing/step-context';
import { createRegistry } from '../loader';

const registry = createRegistry();

describe('host type local', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('checkConnection finds the shell executable, writes to the work directory and logs host and user', async () => {
    const ctx = stepContext('host.local', 'checkConnection', {}, dir.path);
    await registry.executorFor('host.local').execute(ctx);
    expect(ctx.output()).toContain('/bin/sh is executable: ok');
    expect(ctx.output()).toContain(`host ${hostname()}, user ${userInfo().username}`);
    expect(ctx.output()).toContain(`wrote to work directory ${dir.path}: ok`);
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('checkConnection fails when the work directory is not usable', async () => {
    const ctx = stepContext('host.local', 'checkConnection', {}, join(dir.path, 'missing'));
    await expect(registry.executorFor('host.local').execute(ctx)).rejects.toThrow(/cannot write to work directory .*missing/);
  });

  it('noop does nothing: no step log, no file', async () => {
    const ctx = stepContext('host.local', 'noop', {}, dir.path);
    await registry.executorFor('host.local').execute(ctx);
    expect(ctx.output()).toBe('');
    expect(readdirSync(dir.path)).toEqual([]);
  });

  it('noop with sleepMs waits that long, and stops at once when aborted', async () => {
    const began = performance.now();
    await registry.executorFor('host.local').execute(stepContext('host.local', 'noop', { sleepMs: 50 }, dir.path));
    expect(performance.now() - began).toBeGreaterThanOrEqual(45);

    const ctx = stepContext('host.local', 'noop', { sleepMs: 60_000 }, dir.path);
    const running = registry.executorFor('host.local').execute(ctx);
    ctx.controller.abort();
    await expect(running).rejects.toThrow(/abort/i);
  });

  it('noop refuses parameters it does not know, and a bad sleepMs, naming the field', async () => {
    const local = registry.hostType('local');
    expect(local.validateControl?.('noop', { sleepMs: 'soon', x: 1 }, 'parameters')).toEqual([
      { field: 'parameters.sleepMs', message: 'must be an integer, got "soon"' },
      { field: 'parameters.x', message: 'is not a property of control noop (known: sleepMs)' },
    ]);
    expect(local.validateControl?.('noop', { sleepMs: 3_600_001 }, 'parameters')).toHaveLength(1);
    expect(local.validateControl?.('noop', { sleepMs: 0 }, 'parameters')).toEqual([]);
    await expect(registry.executorFor('host.local').execute(stepContext('host.local', 'noop', { sleepMs: -5 }, dir.path))).rejects.toThrow(
      'invalid control noop properties: sleepMs must be from 0 to 3600000, got -5',
    );
  });

  it('refuses a control it does not have', async () => {
    const ctx = stepContext('host.local', 'reboot', {}, dir.path);
    await expect(registry.executorFor('host.local').execute(ctx)).rejects.toThrow('host type local has no control reboot');
  });
});

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

  it('refuses a control it does not have', async () => {
    const ctx = stepContext('host.local', 'reboot', {}, dir.path);
    await expect(registry.executorFor('host.local').execute(ctx)).rejects.toThrow('host type local has no control reboot');
  });
});

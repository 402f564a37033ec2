import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { stepContext, tempDir } from '../../testing/step-context';
import { createRegistry } from '../loader';

const registry = createRegistry();

describe('the built-in types with ssh support, on other hosts', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('file.File accepts mode and owner in a manifest and checks them', () => {
    const validate = (properties: Record<string, unknown>) => registry.validate('file.File', properties, 'deployables[0]');
    expect(validate({ targetPath: '/opt/a', content: '', mode: '0640', owner: 'app:app' })).toEqual([]);
    expect(validate({ targetPath: '/opt/a', content: '', mode: 416, owner: 'a b' })).toEqual([
      { field: 'deployables[0].mode', message: 'must be an octal mode as a string, like "0640", got "640"' },
      { field: 'deployables[0].owner', message: 'must be a user name or user:group' },
    ]);
    expect(validate({ targetPath: '/opt/a', content: '', mood: '0640' })[0].field).toBe('deployables[0].mood');
  });

  it('file.File applies mode on the local host, and refuses owner there', async () => {
    const path = join(dir.path, 'a.conf');
    // file.File writes on a local host only under its allowedRoots (issue 9).
    const ctx = stepContext('file.File', 'CREATE', { targetPath: path, content: 'x=1\n', mode: '0600' }, dir.path, { allowedRoots: [dir.path] });
    await registry.executorFor('file.File').execute(ctx);
    expect(readFileSync(path, 'utf8')).toBe('x=1\n');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const owned = stepContext('file.File', 'CREATE', { targetPath: path, content: '', owner: 'root' }, dir.path, { allowedRoots: [dir.path] });
    await expect(registry.executorFor('file.File').execute(owned)).rejects.toThrow('file.File owner is supported on ssh hosts only');
  });

  it('http.Check accepts from: worker or target, nothing else', () => {
    const validate = (from: unknown) => registry.validate('http.Check', { url: 'http://app/health', from }, 'd');
    expect(validate('worker')).toEqual([]);
    expect(validate('target')).toEqual([]);
    expect(validate('moon')).toEqual([{ field: 'd.from', message: 'must be one of worker, target' }]);
  });

  it('cmd.Command on the local host runs as before', async () => {
    const ctx = stepContext('cmd.Command', 'CREATE', { create: 'echo local' }, dir.path);
    await registry.executorFor('cmd.Command').execute(ctx);
    expect(ctx.output()).toContain('local\n');
  });
});

import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stepContext, tempDir } from '../../testing/step-context';
import { createRegistry } from '../loader';

const registry = createRegistry();
const file = registry.ciType('file.File');
/** Runs a step on a host that allows writing under `workDir` (or under `roots`; null: a host without the property). */
const execute = (operation: string, properties: Record<string, unknown>, workDir: string, roots: unknown = [workDir]) => {
  const ctx = stepContext('file.File', operation, properties, workDir, roots === null ? undefined : { allowedRoots: roots });
  return registry
    .executorFor('file.File')
    .execute(ctx)
    .then(() => ctx.output());
};

describe('file.File', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('CREATE writes the content, creating missing directories, and logs it', async () => {
    const target = join(dir.path, 'a', 'b', 'app.conf');
    const log = await execute('CREATE', { targetPath: target, content: 'db.url=x\n' }, dir.path);
    expect(readFileSync(target, 'utf8')).toBe('db.url=x\n');
    expect(log).toBe(`wrote 9 bytes to ${target}\n`);
  });

  it('MODIFY replaces the content; empty content is allowed', async () => {
    const target = join(dir.path, 'app.conf');
    writeFileSync(target, 'old');
    await execute('MODIFY', { targetPath: target, content: '' }, dir.path);
    expect(readFileSync(target, 'utf8')).toBe('');
  });

  it('DESTROY removes the file, and is fine when it is already gone', async () => {
    const target = join(dir.path, 'app.conf');
    writeFileSync(target, 'x');
    expect(await execute('DESTROY', { targetPath: target, content: 'x' }, dir.path)).toBe(`removed ${target}\n`);
    expect(existsSync(target)).toBe(false);
    expect(await execute('DESTROY', { targetPath: target, content: 'x' }, dir.path)).toBe(
      `${target} does not exist; nothing to remove\n`,
    );
  });

  it('fails when the properties are invalid', async () => {
    await expect(execute('CREATE', { targetPath: 'relative.conf', content: 'x' }, dir.path)).rejects.toThrow(
      'invalid file.File properties: targetPath must be an absolute path, got "relative.conf"',
    );
  });

  it('validates every property, letting placeholders through', () => {
    expect(file.validate({ targetPath: '{{APP_HOME}}/app.conf', content: 'url={{DB_URL}}' }, 'deployables[0]')).toEqual([]);
    expect(file.validate({ targetPth: '/x', content: 3 }, 'deployables[1]')).toEqual([
      { field: 'deployables[1].targetPath', message: 'is required' },
      { field: 'deployables[1].content', message: 'must be a string, got number 3' },
      { field: 'deployables[1].targetPth', message: 'is not a property of file.File (known: targetPath, content)' },
    ]);
  });

  it('has a step for every operation, with default order 60', () => {
    const subject = { deployable: 'app-config', host: 'local-1', properties: {} };
    expect(file.describeStep('CREATE', subject)).toBe('Create app-config on local-1');
    expect(file.describeStep('MODIFY', subject)).toBe('Modify app-config on local-1');
    expect(file.describeStep('DESTROY', subject)).toBe('Destroy app-config on local-1');
    expect(file.defaultOrder).toBe(60);
  });

  describe('allowed roots (issue 9)', () => {
    let outside: ReturnType<typeof tempDir>;
    beforeEach(() => (outside = tempDir('shipdeck-outside-')));
    afterEach(() => outside.cleanup());

    it('refuses every write on a host without allowedRoots', async () => {
      const target = join(dir.path, 'app.conf');
      await expect(execute('CREATE', { targetPath: target, content: 'x' }, dir.path, null)).rejects.toThrow(
        'host local-1 has no allowedRoots',
      );
      await expect(execute('CREATE', { targetPath: target, content: 'x' }, dir.path, [])).rejects.toThrow('has no allowedRoots');
      await expect(execute('CREATE', { targetPath: target, content: 'x' }, dir.path, ['relative'])).rejects.toThrow('absolute path');
      expect(existsSync(target)).toBe(false);
    });

    it('refuses a target outside the roots, and ".." even when it would land inside', async () => {
      const target = join(outside.path, 'evil.conf');
      await expect(execute('CREATE', { targetPath: target, content: 'x' }, dir.path)).rejects.toThrow('outside the host');
      expect(existsSync(target)).toBe(false);
      await expect(execute('CREATE', { targetPath: `${dir.path}/a/../b.conf`, content: 'x' }, dir.path)).rejects.toThrow('".."');
      writeFileSync(target, 'keep');
      await expect(execute('DESTROY', { targetPath: target, content: 'x' }, dir.path)).rejects.toThrow('outside the host');
      expect(readFileSync(target, 'utf8')).toBe('keep');
    });

    it('does not follow a directory link out of the roots', async () => {
      symlinkSync(outside.path, join(dir.path, 'escape'));
      const target = join(dir.path, 'escape', 'sub', 'evil.conf');
      await expect(execute('CREATE', { targetPath: target, content: 'x' }, dir.path)).rejects.toThrow(`resolves to ${outside.path}`);
      expect(existsSync(join(outside.path, 'sub'))).toBe(false);
    });

    it('does not follow a link at the target itself', async () => {
      const victim = join(outside.path, 'victim');
      writeFileSync(victim, 'keep');
      symlinkSync(victim, join(dir.path, 'app.conf'));
      await expect(execute('CREATE', { targetPath: join(dir.path, 'app.conf'), content: 'x' }, dir.path)).rejects.toThrow(
        'is a symbolic link',
      );
      expect(readFileSync(victim, 'utf8')).toBe('keep');
    });

    it('writes under a root reached through a link, and under a root that does not exist yet', async () => {
      mkdirSync(join(outside.path, 'real'));
      symlinkSync(join(outside.path, 'real'), join(dir.path, 'via-link'));
      await execute('CREATE', { targetPath: join(dir.path, 'via-link', 'a.conf'), content: 'x' }, dir.path, [join(dir.path, 'via-link')]);
      expect(readFileSync(join(outside.path, 'real', 'a.conf'), 'utf8')).toBe('x');
      const fresh = join(dir.path, 'not', 'yet');
      await execute('CREATE', { targetPath: join(fresh, 'b.conf'), content: 'y' }, dir.path, [fresh]);
      expect(readFileSync(join(fresh, 'b.conf'), 'utf8')).toBe('y');
    });
  });
});

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stepContext, tempDir } from '../../testing/step-context';
import { createRegistry } from '../loader';

const registry = createRegistry();
const file = registry.ciType('file.File');
const execute = (operation: string, properties: Record<string, unknown>, workDir: string) => {
  const ctx = stepContext('file.File', operation, properties, workDir);
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
});

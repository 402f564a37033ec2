import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stepContext, tempDir } from '../testing/step-context';
import { createRegistry, loadPlugins } from './loader';
import { PluginRegistry } from './registry';

const PLUGIN_DIR = resolve(__dirname, '../../../../plugins');

describe('example plugin plugins/example-marker', () => {
  let dir: ReturnType<typeof tempDir>;
  let registry: PluginRegistry;
  beforeEach(() => {
    dir = tempDir();
    registry = new PluginRegistry();
    for (const plugin of loadPlugins(PLUGIN_DIR)) registry.register(plugin);
  });
  afterEach(() => dir.cleanup());

  it('is loaded from the plugins directory and declares example.Marker', () => {
    expect(registry.pluginNames()).toContain('example-marker');
    expect(registry.ciType('example.Marker').defaultOrder).toBe(65);
    expect(createRegistry({ pluginDir: PLUGIN_DIR }).hasCiType('example.Marker')).toBe(true);
  });

  it('CREATE writes the marker with its text and a timestamp, DESTROY removes it', async () => {
    const path = join(dir.path, 'sub', 'marker.txt');
    const before = Date.now();
    const create = stepContext('example.Marker', 'CREATE', { path, text: 'hello marker' }, dir.path);
    await registry.executorFor('example.Marker').execute(create);

    const [text, stamp, rest] = readFileSync(path, 'utf8').split('\n');
    expect(text).toBe('hello marker');
    expect(stamp).toMatch(/^deployed-at \d{4}-\d\d-\d\dT/);
    expect(Date.parse(stamp.slice('deployed-at '.length))).toBeGreaterThanOrEqual(before - 1000);
    expect(rest).toBe('');
    expect(create.output()).toBe(`wrote marker ${path}\n`);

    const modify = stepContext('example.Marker', 'MODIFY', { path, text: 'changed' }, dir.path);
    await registry.executorFor('example.Marker').execute(modify);
    expect(readFileSync(path, 'utf8').startsWith('changed\n')).toBe(true);

    const destroy = stepContext('example.Marker', 'DESTROY', { path, text: 'changed' }, dir.path);
    await registry.executorFor('example.Marker').execute(destroy);
    expect(existsSync(path)).toBe(false);
  });

  it('validates its properties', () => {
    expect(registry.validate('example.Marker', { path: '{{HOME}}/m', text: 'x' }, 'deployables[0]')).toEqual([]);
    expect(registry.validate('example.Marker', { path: 'relative', color: 'red' }, 'deployables[0]')).toEqual([
      { field: 'deployables[0].text', message: 'is required' },
      { field: 'deployables[0].path', message: 'must be an absolute path, got "relative"' },
      { field: 'deployables[0].color', message: 'is not a property of example.Marker' },
    ]);
  });
});

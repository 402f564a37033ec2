import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@shipdeck/errors';
import { tempDir } from '../testing/step-context';
import { createRegistry, listPluginFiles, loadPlugins } from './loader';

const pluginSource = (name: string, type: string) => `
exports.plugin = {
  name: '${name}',
  ciTypes: [{
    name: '${type}',
    defaultOrder: 10,
    validate: () => [],
    describeStep: () => 'step',
    execute: async () => {},
  }],
};
`;

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

describe('loadPlugins', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir('shipdeck-plugins-')));
  afterEach(() => dir.cleanup());

  it('loads dir/*.js and dir/*/index.js in name order, skipping everything else', () => {
    writeFileSync(join(dir.path, 'b.js'), pluginSource('b', 'b.B'));
    mkdirSync(join(dir.path, 'a'));
    writeFileSync(join(dir.path, 'a', 'index.js'), pluginSource('a', 'a.A'));
    mkdirSync(join(dir.path, 'c-no-index'));
    writeFileSync(join(dir.path, 'c-no-index', 'other.js'), 'throw new Error("not loaded")');
    writeFileSync(join(dir.path, 'README.md'), '# not a plugin');
    writeFileSync(join(dir.path, 'd.js.map'), '{}');

    expect(listPluginFiles(dir.path)).toEqual([join(dir.path, 'a', 'index.js'), join(dir.path, 'b.js')]);
    expect(loadPlugins(dir.path).map((p) => p.name)).toEqual(['a', 'b']);
  });

  it('loads nothing from a missing directory', () => {
    expect(loadPlugins(join(dir.path, 'missing'))).toEqual([]);
  });

  it('stops with a ConfigError naming a module that fails to load', () => {
    const file = join(dir.path, 'broken.js');
    writeFileSync(file, 'this is not javascript');
    const error = thrown(() => loadPlugins(dir.path));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toMatch(new RegExp(`^plugin ${file} failed to load: `));
  });

  it('stops with a ConfigError naming a module that exports no plugin', () => {
    const file = join(dir.path, 'empty.js');
    writeFileSync(file, 'exports.notAPlugin = 1;');
    const error = thrown(() => loadPlugins(dir.path));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`plugin ${file} does not export \`plugin\``);
  });

  it('stops with a ConfigError naming a module whose plugin is malformed', () => {
    const file = join(dir.path, 'malformed.js');
    writeFileSync(file, "exports.plugin = { name: 'm', ciTypes: [{ name: 'm.M' }] };");
    const error = thrown(() => loadPlugins(dir.path));
    expect(error.message).toBe(
      `plugin ${file} does not export a valid plugin: ciTypes[0].defaultOrder must be an integer from 0 to 100; ` +
        'ciTypes[0].validate must be a function; ciTypes[0].describeStep must be a function; ciTypes[0].execute must be a function',
    );
  });
});

describe('createRegistry', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir('shipdeck-plugins-')));
  afterEach(() => dir.cleanup());

  it('registers the built-ins, then the external plugins', () => {
    writeFileSync(join(dir.path, 'extra.js'), pluginSource('extra', 'extra.Thing'));
    const registry = createRegistry({ pluginDir: dir.path });
    expect(registry.ciTypeNames()).toEqual(['cmd.Command', 'extra.Thing', 'file.File', 'http.Check']);
    expect(registry.pluginNames()).toEqual(['builtin-file', 'builtin-cmd', 'builtin-http', 'builtin-local-host', 'builtin-ssh-host', 'extra']);
  });

  it('names the file of an external plugin that clashes with a built-in type', () => {
    const file = join(dir.path, 'clash.js');
    writeFileSync(file, pluginSource('clash', 'file.File'));
    const error = thrown(() => createRegistry({ pluginDir: dir.path }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(`plugin clash (${file}) registers CI type file.File, which plugin builtin-file (built-in) already registered`);
  });

  it('has only the built-ins without a plugin directory', () => {
    expect(createRegistry().ciTypeNames()).toEqual(['cmd.Command', 'file.File', 'http.Check']);
  });
});

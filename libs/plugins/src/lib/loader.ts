import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { ConfigError } from '@shipdeck/errors';
import { BUILTIN_PLUGINS } from './builtin';
import { errorMessage } from './error-text';
import { ShipdeckPlugin } from './plugin';
import { PluginRegistry, pluginProblems } from './registry';

/**
 * The plugin modules in `dir`: every `dir/*.js` and every `dir/NAME/index.js`, sorted by entry
 * name. A missing directory has none.
 */
export function listPluginFiles(dir: string): string[] {
  const root = resolve(dir);
  if (!existsSync(root)) return [];
  const files: string[] = [];
  for (const entry of readdirSync(root, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(root, entry.name);
    if (entry.name.startsWith('.')) continue;
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && statSync(path).isDirectory());
    if (isDir) {
      const index = join(path, 'index.js');
      if (existsSync(index)) files.push(index);
    } else if (entry.name.endsWith('.js')) {
      files.push(path);
    }
  }
  return files;
}

/**
 * Loads the external plugins in `dir` (CommonJS modules, see {@link listPluginFiles}), each of
 * which must export `plugin`. Does not register them.
 *
 * @throws ConfigError naming the file when a module fails to load or exports no valid plugin.
 */
export function loadPlugins(dir: string): ShipdeckPlugin[] {
  return loadPluginFiles(dir).map((loaded) => loaded.plugin);
}

interface LoadedPlugin {
  file: string;
  plugin: ShipdeckPlugin;
}

function loadPluginFiles(dir: string): LoadedPlugin[] {
  return listPluginFiles(dir).map((file) => {
    let exported: unknown;
    try {
      // Node's own loader: plugins are plain CommonJS files outside any bundle or transpiler.
      exported = createRequire(file)(file) as unknown;
    } catch (error) {
      const message = errorMessage(error);
      throw new ConfigError(`plugin ${file} failed to load: ${message}`, [{ field: file, message }]);
    }
    const plugin = (exported as { plugin?: unknown } | null)?.plugin;
    if (plugin === undefined) {
      const message = 'does not export `plugin`';
      throw new ConfigError(`plugin ${file} ${message}`, [{ field: file, message }]);
    }
    const problems = pluginProblems(plugin);
    if (problems.length > 0) {
      throw new ConfigError(
        `plugin ${file} does not export a valid plugin: ${problems.join('; ')}`,
        problems.map((message) => ({ field: file, message })),
      );
    }
    return { file, plugin: plugin as ShipdeckPlugin };
  });
}

export interface RegistryOptions {
  /** Directory of external plugins (`plugins/` of the installation); none when undefined or missing. */
  pluginDir?: string;
}

/**
 * A registry with the built-in plugins and then the external ones from `pluginDir`.
 *
 * @throws ConfigError naming the file when an external plugin cannot be loaded or clashes with
 *   another plugin's types.
 */
export function createRegistry(options: RegistryOptions = {}): PluginRegistry {
  const registry = new PluginRegistry();
  for (const plugin of BUILTIN_PLUGINS) registry.register(plugin, 'built-in');
  if (options.pluginDir !== undefined) {
    for (const { file, plugin } of loadPluginFiles(options.pluginDir)) registry.register(plugin, file);
  }
  return registry;
}

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The directories whose contents make up a configuration (spec §3). */
export const CONFIG_HASH_DIRS = ['conf', 'plugins', 'ext'] as const;

/**
 * The configuration hash of an installation: hex SHA-256 over every file under `conf/`,
 * `plugins/` and `ext/` (relative path with `/` separators, a NUL, the file's bytes), in
 * ascending order of relative path. Missing directories contribute nothing; symbolic links are
 * followed. Masters and workers with the same files get the same hash on any machine.
 */
export function computeConfigHash(home: string): string {
  const root = resolve(home);
  const files: { relative: string; absolute: string }[] = [];
  for (const dir of CONFIG_HASH_DIRS) collectFiles(join(root, dir), dir, files, new Set());
  // Plain code-unit order, not localeCompare: the order must not depend on the machine's locale.
  files.sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(file.relative, 'utf8');
    hash.update('\0');
    hash.update(new Uint8Array(readFileSync(file.absolute)));
  }
  return hash.digest('hex');
}

function collectFiles(
  absolute: string,
  relative: string,
  files: { relative: string; absolute: string }[],
  visited: Set<string>,
): void {
  let stats;
  try {
    stats = statSync(absolute);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if (stats.isFile()) {
    files.push({ relative, absolute });
  } else if (stats.isDirectory()) {
    // A link back to an enclosing directory would otherwise recurse forever.
    const real = realpathSync(absolute);
    if (visited.has(real)) return;
    visited.add(real);
    for (const name of readdirSync(absolute)) collectFiles(join(absolute, name), `${relative}/${name}`, files, visited);
    visited.delete(real);
  }
}

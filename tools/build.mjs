// Bundles each app into dist/ with esbuild: the libraries are resolved through tsconfig paths,
// npm packages stay external. Runs at `npm ci` (prepare), before tests, and on first CLI use.
import { build } from 'esbuild';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const apps = ['master', 'worker', 'cli'];

const started = Date.now();
await Promise.all(
  apps.map(async (app) => {
    const outfile = join(root, 'dist', `${app}.js`);
    const { metafile } = await build({
      entryPoints: [join(root, 'apps', app, 'src', 'main.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      packages: 'external',
      sourcemap: true,
      tsconfig: join(root, 'tsconfig.json'),
      define: { SHIPDECK_VERSION: JSON.stringify(version) },
      logLevel: 'warning',
      metafile: true,
    });
    // The npm modules the bundle requires as it loads, for bin/shipdeck.js to load before it
    // turns source maps on: Node would otherwise read the source map of every file they load
    // (TypeORM alone ships about 1,000), a fifth of a second at every start, for stack frames
    // nobody maps.
    const output = Object.entries(metafile.outputs).find(([path]) => join(root, path) === outfile)?.[1];
    // Not those it imports only when needed (ssh2, at the first SSH host).
    const loaded = (output?.imports ?? []).filter((i) => i.external && i.kind !== 'dynamic-import' && !i.path.startsWith('node:'));
    const externals = [...new Set(loaded.map((i) => i.path))].sort();
    writeFileSync(join(root, 'dist', `${app}.externals.json`), `${JSON.stringify(externals, null, 2)}\n`);
  }),
);
console.log(`shipdeck: built ${apps.join(', ')} into dist/ in ${Date.now() - started} ms`);

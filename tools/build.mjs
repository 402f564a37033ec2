// Bundles each app into dist/ with esbuild: the libraries are resolved through tsconfig paths,
// npm packages stay external. Runs at `npm ci` (prepare), before tests, and on first CLI use.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const apps = ['master', 'worker', 'cli'];

const started = Date.now();
await Promise.all(
  apps.map((app) =>
    build({
      entryPoints: [join(root, 'apps', app, 'src', 'main.ts')],
      outfile: join(root, 'dist', `${app}.js`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      packages: 'external',
      sourcemap: true,
      tsconfig: join(root, 'tsconfig.json'),
      define: { SHIPDECK_VERSION: JSON.stringify(version) },
      logLevel: 'warning',
    }),
  ),
);
console.log(`shipdeck: built ${apps.join(', ')} into dist/ in ${Date.now() - started} ms`);

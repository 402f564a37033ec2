#!/usr/bin/env node
// The `shipdeck` command: `master` and `worker` start a process, everything else is the client CLI.
'use strict';
const { existsSync, readFileSync } = require('node:fs');
const { join } = require('node:path');
const { execFileSync } = require('node:child_process');

const root = join(__dirname, '..');
const command = process.argv[2];
const server = command === 'master' || command === 'worker';
// `shipdeck master --help` prints the usage and starts nothing: the CLI knows every usage text.
const help = server && process.argv.slice(3).some((arg) => arg === '--help' || arg === '-h' || arg === '-help');
if (help) process.argv.splice(2, process.argv.length - 2, 'help', command);
const app = server && !help ? command : 'cli';
const bundle = join(root, 'dist', `${app}.js`);

if (!existsSync(bundle)) {
  process.stderr.write('shipdeck: first run, building…\n');
  execFileSync(process.execPath, [join(root, 'tools', 'build.mjs')], { stdio: 'inherit' });
}
process.env.SHIPDECK_HOME ??= root;
// Stack traces name the TypeScript sources of the bundle, not the npm packages it requires: those
// are loaded first, before source maps are on (Node would read the map of every file they load,
// about 1,000 for TypeORM alone: a fifth of a second at every start). The build lists them.
for (const name of externalsOf(app)) {
  try {
    require(name);
  } catch {
    // The bundle requires it again where it needs it, and reports what is wrong there.
  }
}
process.setSourceMapsEnabled(true);
require(bundle);

function externalsOf(name) {
  try {
    return JSON.parse(readFileSync(join(root, 'dist', `${name}.externals.json`), 'utf8'));
  } catch {
    return [];
  }
}

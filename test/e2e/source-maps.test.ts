import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/shipdeck-process';

/**
 * bin/shipdeck.js turns source maps on for the bundle only: the npm packages the bundle requires
 * as it loads (dist/<app>.externals.json, written by tools/build.mjs) are loaded first, so that
 * Node does not read the source map of each of their files at every start.
 */
describe('the launcher: source maps for the bundle, not for the packages', () => {
  const report = (app: 'master' | 'worker') => {
    // A port that is no port: the process loads its bundle, refuses the configuration, exits 78.
    const run = spawnSync(process.execPath, [join(REPO_ROOT, 'bin', 'shipdeck.js'), app, ...(app === 'worker' ? ['-api', 'http://127.0.0.1:1'] : [])], {
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        SHIPDECK_HOME: REPO_ROOT,
        SHIPDECK_SERVER_PORT: 'notaport',
        SHIPDECK_TEST_BUNDLE: app,
        NODE_OPTIONS: `--require ${join(REPO_ROOT, 'test', 'fixtures', 'source-maps', 'report-at-exit.js')}`,
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    const line = /^source-maps-report (.*)$/m.exec(run.stderr);
    if (!line) throw new Error(`no report from the ${app} (exit ${run.status}):\n${run.stderr}`);
    return { status: run.status, stderr: run.stderr, ...(JSON.parse(line[1]) as { bundle: boolean; typeorm: boolean; typeormLoaded: boolean }) };
  };

  it.each(['master', 'worker'] as const)('%s: its bundle has a source map, TypeORM (loaded before) none', (app) => {
    const seen = report(app);
    expect(seen.stderr).toContain('invalid configuration');
    expect(seen).toMatchObject({ status: 78, bundle: true, typeorm: false, typeormLoaded: true });
  });

  it('the build lists the packages each bundle requires as it loads, not those it imports when needed', () => {
    const externals = (app: string) => JSON.parse(readFileSync(join(REPO_ROOT, 'dist', `${app}.externals.json`), 'utf8')) as string[];
    expect(externals('master')).toEqual(expect.arrayContaining(['express', 'rhea', 'typeorm', 'winston']));
    expect(externals('worker')).toEqual(expect.arrayContaining(['rhea', 'typeorm', 'winston']));
    // ssh2 is imported at the first SSH host only.
    expect(externals('worker')).not.toContain('ssh2');
  });
});

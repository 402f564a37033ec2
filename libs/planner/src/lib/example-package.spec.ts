import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DeployedApplication, Environment, Host, PackageVersion, parseManifestText } from '@shipdeck/domain';
import { createRegistry } from '@shipdeck/plugins';
import { ExecutionOutcome, PhaseSpec, PlanExecution, buildPlan, flattenSteps } from '@shipdeck/tasks';
import { planDeployment, planUndeployment } from './deployment';

const EXAMPLES = resolve(__dirname, '../../../../examples/petclinic');
const types = createRegistry();
const load = (version: string): PackageVersion =>
  parseManifestText(readFileSync(join(EXAMPLES, `${version}.yaml`), 'utf8'), 'application/yaml', types);

/** Runs planned phases with the real step implementations, as a worker would. */
async function execute(phases: PhaseSpec[], workDir: string): Promise<{ outcome: ExecutionOutcome; log: string }> {
  let log = '';
  const plan = buildPlan(phases);
  const outcome = await new PlanExecution({
    taskId: 'example',
    plan,
    executors: types.executorFor,
    workDir,
    hooks: { stepChanged: async () => undefined, firstFailure: async () => undefined, log: (_step, text) => void (log += text) },
  }).run();
  expect(flattenSteps(plan).map((s) => s.state)).toEqual(flattenSteps(plan).map(() => 'DONE'));
  return { outcome, log };
}

describe('example package examples/petclinic', () => {
  let dir: string;
  let appHome: string;
  let environment: Environment;
  let hosts: Host[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'shipdeck-petclinic-'));
    // file.File writes only under the host's allowedRoots (issue 9).
    hosts = [{ name: 'local-1', type: 'local', tags: [], properties: { allowedRoots: [dir] } }];
    appHome = join(dir, 'app');
    environment = { name: 'dev', hosts: ['local-1'], dictionary: { APP_HOME: appHome, DB_URL: 'jdbc:h2:mem:petclinic' } };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('parses both versions', () => {
    const v1 = load('1.0.0');
    const v2 = load('2.0.0');
    expect([v1.application, v1.version, v2.application, v2.version]).toEqual(['petclinic', '1.0.0', 'petclinic', '2.0.0']);
    expect(v1.deployables.map((d) => [d.name, d.type])).toEqual([
      ['app-config', 'file.File'],
      ['readme', 'file.File'],
      ['app', 'cmd.Command'],
    ]);
    const placeholders = JSON.stringify([v1, v2]).match(/\{\{[^}]*\}\}/g);
    expect(new Set(placeholders)).toEqual(new Set(['{{APP_HOME}}', '{{DB_URL}}']));
  });

  it('deploys 1.0.0, updates to 2.0.0 (app-config only) and undeploys', async () => {
    const initial = planDeployment({ pkg: load('1.0.0'), environment, hosts, current: null, types });
    expect(initial.kind).toBe('INITIAL');
    expect((await execute(initial.phases, dir)).outcome).toBe('completed');
    expect(readFileSync(join(appHome, 'app.conf'), 'utf8')).toBe('db.url=jdbc:h2:mem:petclinic\ndb.pool.size=5\n');
    expect(readFileSync(join(appHome, 'README.txt'), 'utf8')).toBe('Petclinic, deployed by Shipdeck.\n');
    expect(readFileSync(join(appHome, 'installed.txt'), 'utf8')).toBe('petclinic installed\n');

    const current: DeployedApplication = {
      environment: 'dev',
      application: 'petclinic',
      version: '1.0.0',
      deployeds: initial.deployeds,
    };
    const update = planDeployment({ pkg: load('2.0.0'), environment, hosts, current, types });
    expect(update.kind).toBe('UPDATE');
    expect(update.delta.map((d) => [d.operation, d.next?.deployable])).toEqual([
      ['MODIFY', 'app-config'],
      ['NOOP', 'readme'],
      ['NOOP', 'app'],
    ]);
    expect(flattenSteps(buildPlan(update.phases)).map((s) => s.description)).toEqual(['Modify app-config on local-1']);
    await execute(update.phases, dir);
    expect(readFileSync(join(appHome, 'app.conf'), 'utf8')).toBe('db.url=jdbc:h2:mem:petclinic\ndb.pool.size=20\n');

    const undeploy = planUndeployment({
      current: { ...current, version: '2.0.0', deployeds: update.deployeds },
      hosts,
      types,
    });
    expect(flattenSteps(buildPlan(undeploy.phases)).map((s) => s.description)).toEqual([
      // The reverse of the creation order: app (order 70), then the two order-60 files, last declared first.
      'Destroy app on local-1',
      'Destroy readme on local-1',
      'Destroy app-config on local-1',
    ]);
    await execute(undeploy.phases, dir);
    expect(existsSync(appHome) && readdirSync(appHome)).toEqual([]);
  });
});

import { Deployable, DeployedApplication, Environment, Host, PackageVersion } from '@shipdeck/domain';
import { ErrorCode, FieldError, PlanningError } from '@shipdeck/errors';
import { createRegistry } from '@shipdeck/plugins';
import { StepSpec, buildPlan, flattenSteps } from '@shipdeck/tasks';
import {
  DEFAULT_MAX_PLAN_STEPS,
  DeploymentPlanInput,
  planDeployment,
  planDeploymentInChunks,
  planUndeployment,
  planUndeploymentInChunks,
} from './deployment';

const types = createRegistry();

const host = (name: string, tags: string[] = []): Host => ({ name, type: 'local', tags, properties: {} });
const environment = (dictionary: Record<string, string> = {}): Environment => ({
  name: 'dev',
  hosts: ['local-1', 'local-2'],
  dictionary: { APP_HOME: '/opt/app', DB_URL: 'jdbc:h2:mem', ...dictionary },
});

const appConfig: Deployable = {
  name: 'app-config',
  type: 'file.File',
  tags: [],
  properties: { targetPath: '{{APP_HOME}}/app.conf', content: 'db.url={{DB_URL}}\n' },
};
const app: Deployable = {
  name: 'app',
  type: 'cmd.Command',
  tags: [],
  properties: { create: 'install {{APP_HOME}}', destroy: 'uninstall {{APP_HOME}}' },
};
const smoke: Deployable = { name: 'smoke', type: 'http.Check', tags: [], properties: { url: 'http://localhost/health' } };

const pkg = (version: string, ...deployables: Deployable[]): PackageVersion => ({
  application: 'petclinic',
  version,
  deployables,
});

/** Each block as [description, parallel, step descriptions]. */
const outline = (phases: { blocks: { description: string; parallel: boolean; steps: StepSpec[] }[] }[]) =>
  phases[0].blocks.map((b) => [b.description, b.parallel, b.steps.map((s) => s.description)]);

function planningDetails(fn: () => unknown): FieldError[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(PlanningError);
    expect((error as PlanningError).code).toBe(ErrorCode.PLANNING_FAILED);
    return (error as PlanningError).details;
  }
  throw new Error('expected a PlanningError');
}

describe('planDeployment', () => {
  it('plans an INITIAL deployment: every mapped deployable is created on every host', () => {
    const planned = planDeployment({
      pkg: pkg('1.0.0', appConfig, app, smoke),
      environment: environment(),
      hosts: [host('local-2'), host('local-1')],
      current: null,
      types,
    });

    expect(planned.kind).toBe('INITIAL');
    expect(planned.delta.map((d) => [d.operation, d.next?.deployable, d.next?.host])).toEqual([
      ['CREATE', 'app-config', 'local-1'],
      ['CREATE', 'app-config', 'local-2'],
      ['CREATE', 'app', 'local-1'],
      ['CREATE', 'app', 'local-2'],
      ['CREATE', 'smoke', 'local-1'],
      ['CREATE', 'smoke', 'local-2'],
    ]);
    expect(planned.deployeds[0]).toEqual({
      deployable: 'app-config',
      type: 'file.File',
      host: 'local-1',
      properties: { targetPath: '/opt/app/app.conf', content: 'db.url=jdbc:h2:mem\n' },
    });
    expect(planned.deployeds).toEqual(planned.delta.map((d) => d.next));
    expect(planned.phases.map((p) => p.description)).toEqual(['Deploy petclinic 1.0.0 to dev']);
    expect(outline(planned.phases)).toEqual([
      ['Deploy (order 60)', true, ['Create app-config on local-1', 'Create app-config on local-2']],
      ['Deploy (order 70)', true, ['Create app on local-1', 'Create app on local-2']],
      ['Deploy (order 90)', true, ['Create smoke on local-1', 'Create smoke on local-2']],
    ]);
    expect(planned.phases[0].blocks[1].steps[0]).toEqual({
      description: 'Create app on local-1',
      order: 70,
      ciType: 'cmd.Command',
      operation: 'CREATE',
      deployable: 'app',
      target: { name: 'local-1', type: 'local', properties: {} },
      // Placeholder values reach shell text as variables (issue 9).
      properties: { create: 'install "${SHIPDECK_VALUE_APP_HOME}"', destroy: 'uninstall "${SHIPDECK_VALUE_APP_HOME}"', env: { SHIPDECK_VALUE_APP_HOME: '/opt/app' } },
    });
  });

  it('plans an UPDATE: CREATE, MODIFY, DESTROY, and NOOP without a step, destroys first', () => {
    const current: DeployedApplication = {
      environment: 'dev',
      application: 'petclinic',
      version: '1.0.0',
      deployeds: [
        {
          deployable: 'app-config',
          type: 'file.File',
          host: 'local-1',
          properties: { targetPath: '/opt/app/app.conf', content: 'db.url=jdbc:h2:mem\n' },
        },
        { deployable: 'app', type: 'cmd.Command', host: 'local-1', properties: { create: 'install /opt/app' } },
        { deployable: 'old-config', type: 'file.File', host: 'local-1', properties: { targetPath: '/opt/old', content: '' } },
      ],
    };
    const planned = planDeployment({
      pkg: pkg('2.0.0', appConfig, app, smoke),
      environment: environment(),
      hosts: [host('local-1')],
      current,
      types,
    });

    expect(planned.kind).toBe('UPDATE');
    expect(planned.delta).toEqual([
      { operation: 'NOOP', previous: current.deployeds[0], next: current.deployeds[0] },
      {
        operation: 'MODIFY',
        previous: current.deployeds[1],
        next: { ...current.deployeds[1], properties: { create: 'install "${SHIPDECK_VALUE_APP_HOME}"', destroy: 'uninstall "${SHIPDECK_VALUE_APP_HOME}"', env: { SHIPDECK_VALUE_APP_HOME: '/opt/app' } } },
      },
      {
        operation: 'CREATE',
        next: { deployable: 'smoke', type: 'http.Check', host: 'local-1', properties: { url: 'http://localhost/health' } },
      },
      { operation: 'DESTROY', previous: current.deployeds[2] },
    ]);
    expect(planned.deployeds.map((d) => d.deployable)).toEqual(['app-config', 'app', 'smoke']);
    expect(outline(planned.phases)).toEqual([
      ['Destroy (order 40)', false, ['Destroy old-config on local-1']],
      ['Deploy (order 70)', false, ['Modify app on local-1']],
      ['Deploy (order 90)', false, ['Create smoke on local-1']],
    ]);
    const destroy = planned.phases[0].blocks[0].steps[0];
    expect(destroy).toMatchObject({ operation: 'DESTROY', order: 40, properties: { targetPath: '/opt/old', content: '' } });
  });

  it('modifies a deployable whose type changed, even with equal properties', () => {
    const properties = { targetPath: '/opt/app/x', content: '' };
    const planned = planDeployment({
      pkg: pkg('2', { name: 'x', type: 'file.File', tags: [], properties }),
      environment: environment(),
      hosts: [host('local-1')],
      current: {
        environment: 'dev',
        application: 'petclinic',
        version: '1',
        deployeds: [{ deployable: 'x', type: 'other.Type', host: 'local-1', properties }],
      },
      types,
    });
    expect(planned.delta.map((d) => d.operation)).toEqual(['MODIFY']);
  });

  it('leaves out steps a type does not have: http.Check and a command without destroy on DESTROY', () => {
    const planned = planDeployment({
      pkg: pkg('2', appConfig),
      environment: environment(),
      hosts: [host('local-1')],
      current: {
        environment: 'dev',
        application: 'petclinic',
        version: '1',
        deployeds: [
          { deployable: 'smoke', type: 'http.Check', host: 'local-1', properties: { url: 'http://x' } },
          { deployable: 'run', type: 'cmd.Command', host: 'local-1', properties: { create: 'true' } },
        ],
      },
      types,
    });
    expect(planned.delta.map((d) => d.operation)).toEqual(['CREATE', 'DESTROY', 'DESTROY']);
    expect(outline(planned.phases)).toEqual([['Deploy (order 60)', false, ['Create app-config on local-1']]]);
  });

  it('plans nothing to do as one phase without blocks', () => {
    const first = planDeployment({ pkg: pkg('1', appConfig), environment: environment(), hosts: [host('local-1')], current: null, types });
    const again = planDeployment({
      pkg: pkg('1', appConfig),
      environment: environment(),
      hosts: [host('local-1')],
      current: { environment: 'dev', application: 'petclinic', version: '1', deployeds: first.deployeds },
      types,
    });
    expect(again.delta.map((d) => d.operation)).toEqual(['NOOP']);
    expect(again.phases).toEqual([{ description: 'Deploy petclinic 1 to dev', blocks: [] }]);
    expect(again.deployeds).toEqual(first.deployeds);
  });

  describe('tag mapping', () => {
    const hosts = [host('web-1', ['web']), host('db-1', ['db']), host('both-1', ['db', 'web']), host('plain-1')];
    const mappedHosts = (tags: string[]) =>
      planDeployment({
        pkg: pkg('1', { ...appConfig, tags }),
        environment: environment(),
        hosts,
        current: null,
        types,
      }).deployeds.map((d) => d.host);

    it('maps a deployable with tags to the hosts having at least one of them', () => {
      expect(mappedHosts(['web'])).toEqual(['both-1', 'web-1']);
      expect(mappedHosts(['web', 'db'])).toEqual(['both-1', 'db-1', 'web-1']);
    });

    it('maps a deployable without tags to every host', () => {
      expect(mappedHosts([])).toEqual(['both-1', 'db-1', 'plain-1', 'web-1']);
    });

    it('maps a deployable whose tags no host has nowhere, and ignores its placeholders', () => {
      const planned = planDeployment({
        pkg: pkg('1', appConfig, { ...app, tags: ['cache'], properties: { create: '{{NOT_IN_DICTIONARY}}' } }),
        environment: environment(),
        hosts,
        current: null,
        types,
      });
      expect(planned.deployeds.map((d) => d.deployable)).toEqual(['app-config', 'app-config', 'app-config', 'app-config']);
    });
  });

  describe('ordering', () => {
    it('uses an explicit order and keeps the declared order of deployables sharing one, one block per deployable across hosts', () => {
      const planned = planDeployment({
        pkg: pkg(
          '1',
          { ...app, name: 'zz-first', order: 10, tags: ['a'] },
          { ...appConfig, name: 'b-config', order: 70 },
          { ...appConfig, name: 'a-config', order: 70, tags: ['b'] },
          { ...appConfig, name: 'single', order: 80, tags: ['a'] },
        ),
        environment: environment(),
        hosts: [host('h2', ['b']), host('h1', ['a'])],
        current: null,
        types,
      });
      expect(outline(planned.phases)).toEqual([
        ['Deploy (order 10)', false, ['Create zz-first on h1']],
        ['Deploy (order 70): b-config', true, ['Create b-config on h1', 'Create b-config on h2']],
        ['Deploy (order 70): a-config', false, ['Create a-config on h2']],
        ['Deploy (order 80)', false, ['Create single on h1']],
      ]);
      const plan = buildPlan(planned.phases);
      expect(flattenSteps(plan).map((s) => [s.path, s.order])).toEqual([
        ['1-1-1', 10],
        ['1-2-1', 70],
        ['1-2-2', 70],
        ['1-3-1', 70],
        ['1-4-1', 80],
      ]);
    });

    it('keeps the declared order of deployables sharing an order on one host, and reverses it for destroys', () => {
      const declared = [
        { ...app, name: 'prep', order: 50 },
        { ...app, name: 'long', order: 50 },
        { ...app, name: 'after', order: 50 },
      ];
      const planned = planDeployment({ pkg: pkg('1', ...declared), environment: environment(), hosts: [host('local-1')], current: null, types });
      expect(outline(planned.phases)).toEqual([
        ['Deploy (order 50)', false, ['Create prep on local-1', 'Create long on local-1', 'Create after on local-1']],
      ]);
      const current = { environment: 'dev', application: 'petclinic', version: '1', deployeds: planned.deployeds };
      const undeploy = planUndeployment({ current, hosts: [host('local-1')], types, pkg: pkg('1', ...declared) });
      expect(outline(undeploy.phases)).toEqual([
        ['Destroy (order 50)', false, ['Destroy after on local-1', 'Destroy long on local-1', 'Destroy prep on local-1']],
      ]);
    });

    it('orders destroys by 100 minus order, using the order the package gives if it has the deployable', () => {
      const deployed = (deployable: string, type: string, properties: Record<string, unknown>) => ({
        deployable,
        type,
        host: 'local-1',
        properties,
      });
      const planned = planDeployment({
        // `app` stays in the package with order 20 but maps nowhere any more.
        pkg: pkg('2', { ...app, order: 20, tags: ['gone'] }),
        environment: environment(),
        hosts: [host('local-1')],
        current: {
          environment: 'dev',
          application: 'petclinic',
          version: '1',
          deployeds: [
            deployed('config', 'file.File', { targetPath: '/x', content: '' }),
            deployed('app', 'cmd.Command', { create: 'a', destroy: 'b' }),
            deployed('script', 'cmd.Command', { create: 'a', destroy: 'b' }),
          ],
        },
        types,
      });
      expect(outline(planned.phases)).toEqual([
        ['Destroy (order 30)', false, ['Destroy script on local-1']],
        ['Destroy (order 40)', false, ['Destroy config on local-1']],
        ['Destroy (order 80)', false, ['Destroy app on local-1']],
      ]);
    });
  });

  describe('placeholders', () => {
    it('resolves placeholders in every string, also inside lists and maps', () => {
      const planned = planDeployment({
        pkg: pkg('1', {
          ...app,
          properties: { create: 'run {{ APP_HOME }}/bin', env: { HOME: '{{APP_HOME}}', URL: '{{DB_URL}}?x={{DB_URL}}' }, timeout: 30 },
        }),
        environment: environment(),
        hosts: [host('local-1')],
        current: null,
        types,
      });
      expect(planned.deployeds[0].properties).toEqual({
        create: 'run "${SHIPDECK_VALUE_APP_HOME}"/bin',
        env: { HOME: '/opt/app', URL: 'jdbc:h2:mem?x=jdbc:h2:mem', SHIPDECK_VALUE_APP_HOME: '/opt/app' },
        timeout: 30,
      });
    });

    it('reports every unresolved placeholder, once per occurrence, naming deployable and field', () => {
      const details = planningDetails(() =>
        planDeployment({
          pkg: pkg(
            '1',
            { ...appConfig, properties: { targetPath: '{{APP_HOME}}/app.conf', content: '{{USER}}:{{PASSWORD}}@{{USER}}' } },
            { ...app, properties: { create: 'x', env: { A: '{{APP_HOME}}' } } },
          ),
          environment: { name: 'dev', hosts: [], dictionary: {} },
          hosts: [host('local-1'), host('local-2')],
          current: null,
          types,
        }),
      );
      expect(details).toEqual([
        { field: 'app-config.targetPath', message: 'unresolved placeholder {{APP_HOME}}' },
        { field: 'app-config.content', message: 'unresolved placeholder {{USER}}' },
        { field: 'app-config.content', message: 'unresolved placeholder {{PASSWORD}}' },
        { field: 'app-config.content', message: 'unresolved placeholder {{USER}}' },
        { field: 'app.env.A', message: 'unresolved placeholder {{APP_HOME}}' },
      ]);
    });

    it('says what is unresolved in the message', () => {
      expect(() =>
        planDeployment({
          pkg: pkg('1', appConfig),
          environment: { name: 'dev', hosts: [], dictionary: { DB_URL: 'x' } },
          hosts: [host('local-1')],
          current: null,
          types,
        }),
      ).toThrow('cannot plan the deployment of petclinic 1 to dev: app-config.targetPath unresolved placeholder {{APP_HOME}}');
    });

    it('checks resolved values with the type', () => {
      const details = planningDetails(() =>
        planDeployment({
          pkg: pkg('1', appConfig, { ...app, properties: { create: 'x', timeout: '{{TIMEOUT}}' } }),
          environment: environment({ APP_HOME: 'relative', TIMEOUT: 'soon' }),
          hosts: [host('local-1')],
          current: null,
          types,
        }),
      );
      expect(details).toEqual([
        { field: 'app-config.targetPath', message: 'must be an absolute path, got "relative/app.conf"' },
        { field: 'app.timeout', message: 'must be a duration like 300s, 5m, 2h or a number of seconds, got "soon"' },
      ]);
    });
  });

  it('refuses a deployable whose type is no longer registered', () => {
    expect(
      planningDetails(() =>
        planDeployment({
          pkg: pkg('1', { name: 'm', type: 'example.Gone', tags: [], properties: {} }),
          environment: environment(),
          hosts: [host('local-1')],
          current: null,
          types,
        }),
      ),
    ).toEqual([{ field: 'm.type', message: 'unknown type "example.Gone"; no plugin registers it' }]);
  });

  it('refuses to destroy on a host that is not in the environment any more', () => {
    expect(
      planningDetails(() =>
        planDeployment({
          pkg: pkg('2', appConfig),
          environment: environment(),
          hosts: [host('local-1')],
          current: {
            environment: 'dev',
            application: 'petclinic',
            version: '1',
            deployeds: [{ deployable: 'app-config', type: 'file.File', host: 'old-1', properties: {} }],
          },
          types,
        }),
      ),
    ).toEqual([
      {
        field: 'app-config.host',
        message: 'host old-1 holds app-config but is not a host of the environment; add it back to remove it',
      },
    ]);
  });
});

describe('planUndeployment', () => {
  it('destroys every deployed, in reverse order, leaving nothing deployed', () => {
    const initial = planDeployment({
      pkg: pkg('1.0.0', appConfig, app, smoke),
      environment: environment(),
      hosts: [host('local-1'), host('local-2')],
      current: null,
      types,
    });
    const current: DeployedApplication = {
      environment: 'dev',
      application: 'petclinic',
      version: '1.0.0',
      deployeds: initial.deployeds,
    };

    const planned = planUndeployment({ current, hosts: [host('local-1'), host('local-2')], types });

    expect(planned.kind).toBe('UNDEPLOY');
    expect(planned.deployeds).toEqual([]);
    expect(planned.delta).toEqual(initial.deployeds.map((previous) => ({ operation: 'DESTROY', previous })));
    expect(planned.phases[0].description).toBe('Undeploy petclinic from dev');
    expect(outline(planned.phases)).toEqual([
      ['Destroy (order 30)', true, ['Destroy app on local-1', 'Destroy app on local-2']],
      ['Destroy (order 40)', true, ['Destroy app-config on local-1', 'Destroy app-config on local-2']],
    ]);
    expect(planned.phases[0].blocks[0].steps[0].properties).toEqual({
      create: 'install "${SHIPDECK_VALUE_APP_HOME}"',
      destroy: 'uninstall "${SHIPDECK_VALUE_APP_HOME}"',
      env: { SHIPDECK_VALUE_APP_HOME: '/opt/app' },
    });
  });
});

describe('the limit on a plan\'s size', () => {
  const hosts = (count: number, tags: string[] = []) => Array.from({ length: count }, (_, i) => host(`h-${i}`, tags));
  const commands = (count: number, tags: string[] = []): Deployable[] =>
    Array.from({ length: count }, (_, i) => ({ name: `c-${i}`, type: 'cmd.Command', tags, properties: { create: `echo ${i}` } }));
  const input = (deployables: Deployable[], on: Host[], maxSteps?: number): DeploymentPlanInput => ({
    pkg: pkg('1', ...deployables),
    environment: environment(),
    hosts: on,
    current: null,
    types,
    limits: maxSteps === undefined ? undefined : { maxSteps },
  });

  it('refuses more (deployable, host) pairs than the limit, naming the numbers and the setting', () => {
    const message =
      '12 (deployable, host) pairs (3 deployables, 4 hosts) are more than a plan may have, 11 (task.maxPlanSteps); ' +
      'deploy to smaller environments or raise the limit';
    expect(planningDetails(() => planDeployment(input(commands(3), hosts(4), 11)))).toEqual([{ field: 'hosts', message }]);
    expect(() => planDeployment(input(commands(3), hosts(4), 11))).toThrow(`cannot plan the deployment of petclinic 1 to dev: ${message}`);
  });

  it('allows exactly the limit', () => {
    expect(planDeployment(input(commands(3), hosts(4), 12)).delta).toHaveLength(12);
  });

  it('counts only the hosts a deployable maps to, and the deployeds the plan removes', () => {
    const tagged = [...hosts(2, ['web']), host('db-1', ['db'])];
    // 2 deployables on the 2 web hosts: 4 pairs.
    expect(planDeployment(input(commands(2, ['web']), tagged, 4)).delta).toHaveLength(4);
    const current: DeployedApplication = {
      environment: 'dev',
      application: 'petclinic',
      version: '0',
      deployeds: [
        { deployable: 'c-0', type: 'cmd.Command', host: 'h-0', properties: { create: 'echo 0' } },
        { deployable: 'old', type: 'cmd.Command', host: 'db-1', properties: { create: 'echo old' } },
      ],
    };
    // c-0 on h-0 is one of the 4; removing old from db-1 is a fifth pair.
    expect(planningDetails(() => planDeployment({ ...input(commands(2, ['web']), tagged, 4), current }))[0].message).toMatch(
      /^5 \(deployable, host\) pairs \(2 deployables, 3 hosts\)/,
    );
    expect(planDeployment({ ...input(commands(2, ['web']), tagged, 5), current }).delta.map((d) => d.operation)).toEqual([
      'NOOP',
      'CREATE',
      'CREATE',
      'CREATE',
      'DESTROY',
    ]);
  });

  it(`is ${DEFAULT_MAX_PLAN_STEPS} pairs by default: 20 deployables on 501 hosts are refused before any planning`, () => {
    expect(DEFAULT_MAX_PLAN_STEPS).toBe(10_000);
    const unresolvable = commands(20).map((d) => ({ ...d, properties: { create: '{{NOT_IN_DICTIONARY}}' } }));
    const details = planningDetails(() => planDeployment(input(unresolvable, hosts(501))));
    // Only the limit is reported: nothing was resolved (that would report the placeholders).
    expect(details).toEqual([{ field: 'hosts', message: expect.stringMatching(/^10020 \(deployable, host\) pairs \(20 deployables, 501 hosts\).* 10000 \(task.maxPlanSteps\)/) }]);
    expect(planDeployment(input(commands(20), hosts(500))).delta).toHaveLength(10_000);
  });

  it('limits an undeployment to the same number of pairs', () => {
    const current: DeployedApplication = {
      environment: 'dev',
      application: 'petclinic',
      version: '1',
      deployeds: planDeployment(input(commands(3), hosts(4))).deployeds,
    };
    expect(planningDetails(() => planUndeployment({ current, hosts: hosts(4), types, limits: { maxSteps: 11 } }))[0].message).toMatch(
      /^12 \(deployable, host\) pairs \(3 deployables, 4 hosts\) are more than a plan may have, 11/,
    );
    expect(planUndeployment({ current, hosts: hosts(4), types, limits: { maxSteps: 12 } }).delta).toHaveLength(12);
  });
});

describe('planning in chunks', () => {
  const many = (deployables: number, hostCount: number): DeploymentPlanInput => ({
    pkg: pkg('1', ...Array.from({ length: deployables }, (_, i): Deployable => ({ ...app, name: `app-${i}`, order: 10 + (i % 3) }))),
    environment: environment(),
    hosts: Array.from({ length: hostCount }, (_, i) => host(`h-${String(i).padStart(4, '0')}`)),
    current: null,
    types,
  });

  /** Runs `work`, counting the turns the event loop takes (setImmediate callbacks) before it settles. */
  async function turnsDuring<T>(work: () => Promise<T>): Promise<{ result: T; turns: number }> {
    let turns = 0;
    let settled = false;
    const tick = () => {
      if (settled) return;
      turns += 1;
      setImmediate(tick);
    };
    setImmediate(tick);
    try {
      return { result: await work(), turns };
    } finally {
      settled = true;
    }
  }

  it('gives the same plan as planning at once, letting the event loop turn between chunks', async () => {
    const { result, turns } = await turnsDuring(() => planDeploymentInChunks(many(10, 400)));
    expect(result).toEqual(planDeployment(many(10, 400)));
    // 4,000 pairs: several chunks, so other callbacks ran while the plan was made.
    expect(turns).toBeGreaterThanOrEqual(8);
  });

  it('undeploys in chunks too', async () => {
    const current: DeployedApplication = { environment: 'dev', application: 'petclinic', version: '1', deployeds: planDeployment(many(10, 400)).deployeds };
    const hosts = many(10, 400).hosts;
    const { result, turns } = await turnsDuring(() => planUndeploymentInChunks({ current, hosts, types }));
    expect(result).toEqual(planUndeployment({ current, hosts, types }));
    expect(turns).toBeGreaterThanOrEqual(8);
  });

  it('rejects with the same errors', async () => {
    await expect(planDeploymentInChunks({ ...many(3, 4), limits: { maxSteps: 11 } })).rejects.toThrow(
      /12 \(deployable, host\) pairs \(3 deployables, 4 hosts\)/,
    );
    await expect(planDeploymentInChunks({ ...many(1, 1), environment: { name: 'dev', hosts: [], dictionary: {} } })).rejects.toThrow(
      'unresolved placeholder {{APP_HOME}}',
    );
  });
});

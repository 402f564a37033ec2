import { ConfigError, ErrorCode, ValidationError } from '@shipdeck/errors';
import { stepContext } from '../testing/step-context';
import { CiTypeDefinition, ShipdeckPlugin } from './plugin';
import { PluginRegistry } from './registry';
import { BUILTIN_PLUGINS } from './builtin';

function ciType(name: string, overrides: Partial<CiTypeDefinition> = {}): CiTypeDefinition {
  return {
    name,
    defaultOrder: 50,
    validate: () => [],
    describeStep: (operation, subject) => `${operation} ${subject.deployable}`,
    execute: async (ctx) => ctx.log(`${name} ${ctx.step.operation}`),
    ...overrides,
  };
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('PluginRegistry', () => {
  let registry: PluginRegistry;
  beforeEach(() => {
    registry = new PluginRegistry();
    for (const plugin of BUILTIN_PLUGINS) registry.register(plugin);
  });

  it('knows the built-in types', () => {
    expect(registry.ciTypeNames()).toEqual(['cmd.Command', 'file.File', 'http.Check']);
    expect(registry.hostTypeNames()).toEqual(['local', 'ssh']);
    expect(registry.hasCiType('file.File')).toBe(true);
    expect(registry.has('file.File')).toBe(true);
    expect(registry.has('nope.Nope')).toBe(false);
    expect(registry.hasHostType('local')).toBe(true);
    expect(registry.hasHostType('winrm')).toBe(false);
  });

  it('refuses an unknown CI type or host type with UNKNOWN_CI_TYPE', () => {
    const ci = thrown(() => registry.ciType('nope.Nope'));
    expect(ci).toBeInstanceOf(ValidationError);
    expect(ci).toMatchObject({ code: ErrorCode.UNKNOWN_CI_TYPE, message: expect.stringContaining('"nope.Nope"') });
    expect(thrown(() => registry.hostType('winrm'))).toMatchObject({ code: ErrorCode.UNKNOWN_CI_TYPE });
    expect(thrown(() => registry.executorFor('nope.Nope'))).toMatchObject({ code: ErrorCode.UNKNOWN_CI_TYPE });
    expect(thrown(() => registry.executorFor('host.winrm'))).toMatchObject({ code: ErrorCode.UNKNOWN_CI_TYPE });
  });

  it('registers an external plugin like a built-in, and dispatches its steps', async () => {
    registry.register({ name: 'extra', ciTypes: [ciType('extra.Thing')] });
    expect(registry.ciType('extra.Thing').defaultOrder).toBe(50);
    const ctx = stepContext('extra.Thing', 'MODIFY', {}, '/tmp');
    const { executorFor } = registry;
    await executorFor('extra.Thing').execute(ctx);
    expect(ctx.output()).toBe('extra.Thing MODIFY');
  });

  it('dispatches host.<type> steps to the control named by the operation', async () => {
    registry.register({ name: 'remote', hostTypes: [{ name: 'remote', controls: { ping: async (ctx) => ctx.log('pong') } }] });
    const ctx = stepContext('host.remote', 'ping', {}, '/tmp');
    await registry.executorFor('host.remote').execute(ctx);
    expect(ctx.output()).toBe('pong');
    await expect(registry.executorFor('host.remote').execute(stepContext('host.remote', 'toString', {}, '/tmp'))).rejects.toThrow(
      'host type remote has no control toString',
    );
  });

  it('refuses a type name that is already registered, registering nothing of the plugin', () => {
    const clash: ShipdeckPlugin = { name: 'clash', ciTypes: [ciType('new.Type'), ciType('file.File')] };
    const error = thrown(() => registry.register(clash, '/opt/plugins/clash.js'));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toBe(
      'plugin clash (/opt/plugins/clash.js) registers CI type file.File, which plugin builtin-file already registered',
    );
    expect(registry.hasCiType('new.Type')).toBe(false);
    expect(thrown(() => registry.register({ name: 'l2', hostTypes: [{ name: 'local', controls: {} }] }))).toMatchObject({
      message: 'plugin l2 registers host type local, which plugin builtin-local-host already registered',
    });
  });

  it('refuses a second plugin of the same name', () => {
    registry.register({ name: 'extra', ciTypes: [ciType('extra.One')] });
    expect(thrown(() => registry.register({ name: 'extra', ciTypes: [ciType('extra.Two')] }))).toMatchObject({
      code: ErrorCode.CONFIG_INVALID,
      message: 'plugin extra: a plugin named extra is already registered (plugin extra)',
    });
  });

  it('refuses a malformed plugin, saying what is wrong', () => {
    const malformed = {
      name: 'bad',
      ciTypes: [
        { name: 'host.x', defaultOrder: 101, validate: () => [] },
        ciType('twice.Twice'),
        ciType('twice.Twice'),
      ],
    } as unknown as ShipdeckPlugin;
    expect((thrown(() => registry.register(malformed)) as Error).message).toBe(
      'plugin bad is not a valid Shipdeck plugin: ciTypes[0].name must not start with "host." (reserved); ' +
        'ciTypes[0].defaultOrder must be an integer from 0 to 100; ciTypes[0].describeStep must be a function; ' +
        'ciTypes[0].execute must be a function; ciTypes[2].name twice.Twice is declared twice',
    );
    expect((thrown(() => registry.register({ name: 'empty' })) as Error).message).toContain(
      'it declares neither ciTypes nor hostTypes',
    );
  });

  it('validates properties through the type, as a CiTypeCatalog', () => {
    expect(registry.validate('file.File', { content: 'x' }, 'deployables[0]')).toEqual([
      { field: 'deployables[0].targetPath', message: 'is required' },
    ]);
    expect(registry.validate('nope.Nope', {}, 'deployables[0]')).toEqual([
      { field: 'deployables[0].type', message: 'unknown type "nope.Nope"' },
    ]);
  });
});

import { CiTypeCatalog } from '@shipdeck/domain';
import { ConfigError, ErrorCode, FieldError, ValidationError } from '@shipdeck/errors';
import { StepContext, StepExecutor, StepExecutorLookup } from '@shipdeck/tasks';
import { CiTypeDefinition, HOST_STEP_PREFIX, HostTypeDefinition, ShipdeckPlugin, hostStepType } from './plugin';
import { PlaceholderLookup, substituteAll } from './placeholders';

const TYPE_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

interface Registered<T> {
  definition: T;
  /** Where it came from, for error messages: the plugin name and, for external plugins, its file. */
  source: string;
}

/**
 * Every CI type and host type known to this process, from the built-in and external plugins.
 * It checks manifests ({@link CiTypeCatalog}), gives the planner type definitions and gives the
 * execution engine step executors ({@link PluginRegistry.executorFor}).
 */
export class PluginRegistry implements CiTypeCatalog {
  private readonly pluginSources = new Map<string, string>();
  private readonly ciTypeMap = new Map<string, Registered<CiTypeDefinition>>();
  private readonly hostTypeMap = new Map<string, Registered<HostTypeDefinition>>();

  /**
   * Adds a plugin's types. Nothing is registered when the plugin is malformed or clashes with one
   * already registered (same plugin name or type name).
   *
   * @param source where the plugin comes from (its file), for error messages.
   * @throws ConfigError naming the plugin and what is wrong.
   */
  register(plugin: ShipdeckPlugin, source?: string): void {
    const label = describePlugin(plugin, source);
    const problems = pluginProblems(plugin);
    if (problems.length > 0) throw new ConfigError(`${label} is not a valid Shipdeck plugin: ${problems.join('; ')}`);

    const clash = (what: string, name: string, other: string) =>
      new ConfigError(`${label} registers ${what} ${name}, which ${other} already registered`);
    const previous = this.pluginSources.get(plugin.name);
    if (previous !== undefined) throw new ConfigError(`${label}: a plugin named ${plugin.name} is already registered (${previous})`);
    for (const type of plugin.ciTypes ?? []) {
      const other = this.ciTypeMap.get(type.name);
      if (other) throw clash('CI type', type.name, other.source);
    }
    for (const type of plugin.hostTypes ?? []) {
      const other = this.hostTypeMap.get(type.name);
      if (other) throw clash('host type', type.name, other.source);
    }

    this.pluginSources.set(plugin.name, label);
    for (const definition of plugin.ciTypes ?? []) this.ciTypeMap.set(definition.name, { definition, source: label });
    for (const definition of plugin.hostTypes ?? []) this.hostTypeMap.set(definition.name, { definition, source: label });
  }

  /** @throws ValidationError code UNKNOWN_CI_TYPE when no plugin registered `name`. */
  ciType(name: string): CiTypeDefinition {
    const found = this.ciTypeMap.get(name);
    if (!found) throw unknownType('CI type', name, this.ciTypeNames());
    return found.definition;
  }

  /** @throws ValidationError code UNKNOWN_CI_TYPE when no plugin registered host type `name`. */
  hostType(name: string): HostTypeDefinition {
    const found = this.hostTypeMap.get(name);
    if (!found) throw unknownType('host type', name, this.hostTypeNames());
    return found.definition;
  }

  /** Whether a plugin registered CI type `name`. */
  hasCiType(name: string): boolean {
    return this.ciTypeMap.has(name);
  }

  /** Whether a plugin registered host type `name`. */
  hasHostType(name: string): boolean {
    return this.hostTypeMap.has(name);
  }

  /** Registered CI type names, sorted. */
  ciTypeNames(): string[] {
    return [...this.ciTypeMap.keys()].sort();
  }

  /** Registered host type names, sorted. */
  hostTypeNames(): string[] {
    return [...this.hostTypeMap.keys()].sort();
  }

  /** Registered plugin names, in registration order. */
  pluginNames(): string[] {
    return [...this.pluginSources.keys()];
  }

  /** {@link CiTypeCatalog}: whether a CI type is registered. */
  has(type: string): boolean {
    return this.hasCiType(type);
  }

  /** {@link CiTypeCatalog}: the type's own checks of a deployable's properties. */
  validate(type: string, properties: Record<string, unknown>, fieldPrefix: string): FieldError[] {
    const found = this.ciTypeMap.get(type);
    if (!found) return [{ field: `${fieldPrefix}.type`, message: `unknown type "${type}"` }];
    return found.definition.validate(properties, fieldPrefix);
  }

  /**
   * A deployable's properties with their placeholders resolved, as its type resolves them (see
   * {@link CiTypeDefinition.resolvePlaceholders}); plain substitution for an unknown type.
   */
  resolvePlaceholders(type: string, properties: Record<string, unknown>, lookup: PlaceholderLookup, fieldPrefix: string): Record<string, unknown> {
    const resolve = this.ciTypeMap.get(type)?.definition.resolvePlaceholders;
    return resolve ? resolve(properties, lookup, fieldPrefix) : substituteAll(properties, lookup, fieldPrefix);
  }

  /**
   * The executor of a step's ciType: a CI type's `execute`, or for `host.<type>` the host type's
   * control named by the step's operation. Bound to the registry, so it can be passed around.
   *
   * @throws ValidationError code UNKNOWN_CI_TYPE when nothing registered the ciType.
   */
  readonly executorFor: StepExecutorLookup = (ciType: string): StepExecutor => {
    const ci = this.ciTypeMap.get(ciType);
    if (ci) return { execute: (ctx) => ci.definition.execute(ctx) };
    if (ciType.startsWith(HOST_STEP_PREFIX)) {
      const host = this.hostType(ciType.slice(HOST_STEP_PREFIX.length));
      return { execute: (ctx) => runControl(host, ctx) };
    }
    throw unknownType('CI type', ciType, this.ciTypeNames());
  };
}

function runControl(host: HostTypeDefinition, ctx: StepContext): Promise<void> {
  const control = Object.hasOwn(host.controls, ctx.step.operation) ? host.controls[ctx.step.operation] : undefined;
  if (!control) {
    return Promise.reject(
      new Error(`host type ${host.name} has no control ${ctx.step.operation} (step type ${hostStepType(host.name)})`),
    );
  }
  return control(ctx);
}

function unknownType(what: string, name: string, known: string[]): ValidationError {
  return new ValidationError(
    `unknown ${what} ${JSON.stringify(name)} (known: ${known.join(', ') || 'none'})`,
    [{ field: 'type', message: `unknown ${what} ${JSON.stringify(name)}` }],
    ErrorCode.UNKNOWN_CI_TYPE,
  );
}

function describePlugin(plugin: ShipdeckPlugin, source: string | undefined): string {
  const name = typeof plugin?.name === 'string' ? `plugin ${plugin.name}` : 'plugin';
  return source ? `${name} (${source})` : name;
}

/**
 * What is wrong with a plugin object; external plugins are plain JavaScript, so their shape is
 * checked here rather than trusted.
 */
export function pluginProblems(plugin: unknown): string[] {
  if (typeof plugin !== 'object' || plugin === null) return ['it is not an object'];
  const p = plugin as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof p.name !== 'string' || p.name === '') problems.push('name must be a non-empty string');
  const list = (key: string) => {
    if (p[key] === undefined) return [];
    if (Array.isArray(p[key])) return p[key] as unknown[];
    problems.push(`${key} must be a list`);
    return [];
  };
  for (const [key, check] of [
    ['ciTypes', ciTypeProblems],
    ['hostTypes', hostTypeProblems],
  ] as const) {
    const seen = new Set<unknown>();
    list(key).forEach((type, i) => {
      problems.push(...check(type, `${key}[${i}]`));
      const name = (type as { name?: unknown } | null)?.name;
      if (seen.has(name)) problems.push(`${key}[${i}].name ${String(name)} is declared twice`);
      seen.add(name);
    });
  }
  if (p.ciTypes === undefined && p.hostTypes === undefined) problems.push('it declares neither ciTypes nor hostTypes');
  return problems;
}

function ciTypeProblems(type: unknown, at: string): string[] {
  if (typeof type !== 'object' || type === null) return [`${at} is not an object`];
  const t = type as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof t.name !== 'string' || !TYPE_NAME.test(t.name)) problems.push(`${at}.name must be a type name like file.File`);
  else if (t.name.startsWith(HOST_STEP_PREFIX)) problems.push(`${at}.name must not start with "${HOST_STEP_PREFIX}" (reserved)`);
  const order = t.defaultOrder;
  if (typeof order !== 'number' || !Number.isInteger(order) || order < 0 || order > 100) {
    problems.push(`${at}.defaultOrder must be an integer from 0 to 100`);
  }
  for (const fn of ['validate', 'describeStep', 'execute']) {
    if (typeof t[fn] !== 'function') problems.push(`${at}.${fn} must be a function`);
  }
  if (t.resolvePlaceholders !== undefined && typeof t.resolvePlaceholders !== 'function') {
    problems.push(`${at}.resolvePlaceholders must be a function when given`);
  }
  return problems;
}

function hostTypeProblems(type: unknown, at: string): string[] {
  if (typeof type !== 'object' || type === null) return [`${at} is not an object`];
  const t = type as Record<string, unknown>;
  const problems: string[] = [];
  if (typeof t.name !== 'string' || !TYPE_NAME.test(t.name)) problems.push(`${at}.name must be a type name like local`);
  for (const fn of ['validate', 'validateControl']) {
    if (t[fn] !== undefined && typeof t[fn] !== 'function') problems.push(`${at}.${fn} must be a function when given`);
  }
  const secrets = t.secretProperties;
  if (secrets !== undefined && !(Array.isArray(secrets) && secrets.every((path) => typeof path === 'string' && path !== ''))) {
    problems.push(`${at}.secretProperties must be a list of property paths when given`);
  }
  if (typeof t.controls !== 'object' || t.controls === null) problems.push(`${at}.controls must be an object`);
  else {
    for (const [name, fn] of Object.entries(t.controls)) {
      if (typeof fn !== 'function') problems.push(`${at}.controls.${name} must be a function`);
    }
  }
  return problems;
}

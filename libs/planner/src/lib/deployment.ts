import {
  Delta,
  Deployable,
  Deployed,
  DeployedApplication,
  DeploymentKind,
  Environment,
  Host,
  PackageVersion,
} from '@shipdeck/domain';
import { FieldError, PlanningError } from '@shipdeck/errors';
import { DeploymentOperation, PluginRegistry } from '@shipdeck/plugins';
import { PhaseSpec, StepSpec } from '@shipdeck/tasks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { toBlocks } from './blocks';
import { copyJson, jsonEqual } from './json';

/** The default of {@link PlanLimits.maxSteps}, as the `task.maxPlanSteps` configuration key's. */
export const DEFAULT_MAX_PLAN_STEPS = 10_000;

/** How many (deployable, host) pairs the chunked planners handle between two turns of the event loop. */
const PAIRS_PER_CHUNK = 500;

/** Limits on one plan. */
export interface PlanLimits {
  /**
   * Most (deployable, host) pairs a plan may cover, unchanged ones (NOOP) included: each is a
   * delta entry, most are a step. Default {@link DEFAULT_MAX_PLAN_STEPS}; set by `task.maxPlanSteps`.
   */
  maxSteps?: number;
}

/** What {@link planDeployment} needs; all of it already loaded, the planner does no I/O. */
export interface DeploymentPlanInput {
  pkg: PackageVersion;
  environment: Environment;
  /** The environment's hosts. */
  hosts: Host[];
  /** What the environment holds of the application now; null for a first deployment. */
  current: DeployedApplication | null;
  types: PluginRegistry;
  limits?: PlanLimits;
}

/** What {@link planUndeployment} needs. */
export interface UndeploymentPlanInput {
  current: DeployedApplication;
  /** The environment's hosts; every host holding a deployed must be among them. */
  hosts: Host[];
  types: PluginRegistry;
  /**
   * The package `current` was deployed from, when it is still imported: its explicit orders
   * apply to the destroys as they did to the creates.
   */
  pkg?: PackageVersion;
  limits?: PlanLimits;
}

/** A planned deployment or undeployment. */
export interface DeploymentPlan {
  kind: DeploymentKind;
  /** The application's deployeds once the task is done (empty after an undeployment). */
  deployeds: Deployed[];
  /** One entry per (deployable, host), NOOPs included. */
  delta: Delta[];
  /** For `buildPlan` (@shipdeck/tasks). */
  phases: PhaseSpec[];
}

/**
 * Plans deploying `pkg` to `environment`: maps deployables to hosts by tag, resolves
 * placeholders, compares with `current` and turns the changes into steps (see the library's
 * documentation for the plan's shape). Runs in O(n log n) for n (deployable, host) pairs.
 *
 * @throws PlanningError with one detail per unresolved placeholder (field
 *   `DEPLOYABLE.PROPERTY`) or per invalid resolved property, unknown type, or host that holds a
 *   deployed but is not among `hosts`; or, before any other work, when the plan would cover more
 *   pairs than `limits.maxSteps`.
 */
export function planDeployment(input: DeploymentPlanInput): DeploymentPlan {
  return runToEnd(deploymentPlanner(input));
}

/**
 * {@link planDeployment} in chunks of a few hundred (deployable, host) pairs, giving the event
 * loop a turn between two chunks: a master planning a large deployment keeps answering its
 * health checks and other requests meanwhile. Same result, same errors.
 */
export function planDeploymentInChunks(input: DeploymentPlanInput): Promise<DeploymentPlan> {
  return runInChunks(deploymentPlanner(input));
}

/**
 * Plans removing every deployed of `current`: each becomes a DESTROY (with no step for types
 * that have nothing to undo).
 *
 * @throws PlanningError when a deployed's type is no longer registered or its host is not
 *   among `hosts`, or when `current` has more deployeds than `limits.maxSteps`.
 */
export function planUndeployment(input: UndeploymentPlanInput): DeploymentPlan {
  return runToEnd(undeploymentPlanner(input));
}

/** {@link planUndeployment} in chunks, giving the event loop a turn between two (see {@link planDeploymentInChunks}). */
export function planUndeploymentInChunks(input: UndeploymentPlanInput): Promise<DeploymentPlan> {
  return runInChunks(undeploymentPlanner(input));
}

/** A planner: it yields where a chunk of work ends and returns the plan. */
type Planner = Generator<void, DeploymentPlan, void>;

function runToEnd(planner: Planner): DeploymentPlan {
  for (;;) {
    const next = planner.next();
    if (next.done) return next.value;
  }
}

async function runInChunks(planner: Planner): Promise<DeploymentPlan> {
  for (;;) {
    const next = planner.next();
    if (next.done) return next.value;
    // setImmediate, not a resolved promise: I/O callbacks (an HTTP request) run before it.
    await nextTurn();
  }
}

/** True every {@link PAIRS_PER_CHUNK}th time, counting from 1: where a planner yields. */
function chunkEnds(count: number): boolean {
  return count % PAIRS_PER_CHUNK === 0;
}

function* deploymentPlanner(input: DeploymentPlanInput): Planner {
  const { pkg, environment, current, types } = input;
  const label = `${pkg.application} ${pkg.version} to ${environment.name}`;
  if (current && current.application !== pkg.application) {
    throw new PlanningError(`cannot plan ${label}: the current deployment is of application ${current.application}`);
  }
  const hosts = sortedHosts(input.hosts);
  const mappedHosts = pkg.deployables.map((deployable) => hostsOf(deployable, hosts));
  refuseOverLimit(`deployment of ${label}`, countPairs(pkg.deployables, mappedHosts, hosts, current), pkg.deployables.length, hosts.length, input.limits);
  yield;
  const errors: FieldError[] = [];

  const wanted: { deployable: Deployable; deployed: Deployed }[] = [];
  for (const [i, deployable] of pkg.deployables.entries()) {
    const mapped = mappedHosts[i];
    if (mapped.length === 0) continue;
    const properties = resolveDeployable(deployable, environment, types, errors);
    for (const host of mapped) {
      wanted.push({
        deployable,
        deployed: { deployable: deployable.name, type: deployable.type, host: host.name, properties: copyJson(properties) },
      });
      if (chunkEnds(wanted.length)) yield;
    }
  }

  const delta: Delta[] = [];
  const previous = new Map((current?.deployeds ?? []).map((d) => [keyOf(d), d]));
  for (const { deployed: next } of wanted) {
    const key = keyOf(next);
    const before = previous.get(key);
    previous.delete(key);
    if (!before) delta.push({ operation: 'CREATE', next });
    else if (before.type === next.type && jsonEqual(before.properties, next.properties)) {
      delta.push({ operation: 'NOOP', previous: before, next });
    } else delta.push({ operation: 'MODIFY', previous: before, next });
    if (chunkEnds(delta.length)) yield;
  }
  for (const gone of previous.values()) delta.push({ operation: 'DESTROY', previous: gone });

  const explicitOrder = new Map(pkg.deployables.map((d) => [d.name, d.order]));
  const steps = yield* stepsFor(delta, hosts, types, (name) => explicitOrder.get(name), errors);
  if (errors.length > 0) throw planningError(`deployment of ${label}`, errors);
  yield;

  return {
    kind: current ? 'UPDATE' : 'INITIAL',
    deployeds: wanted.map((w) => w.deployed),
    delta,
    phases: [{ description: `Deploy ${pkg.application} ${pkg.version} to ${environment.name}`, blocks: toBlocks(steps) }],
  };
}

function* undeploymentPlanner(input: UndeploymentPlanInput): Planner {
  const { current, types } = input;
  const what = `undeployment of ${current.application} from ${current.environment}`;
  const deployables = new Set(current.deployeds.map((d) => d.deployable)).size;
  const hostNames = new Set(current.deployeds.map((d) => d.host)).size;
  refuseOverLimit(what, current.deployeds.length, deployables, hostNames, input.limits);
  const errors: FieldError[] = [];
  const delta: Delta[] = current.deployeds.map((previous) => ({ operation: 'DESTROY', previous }));
  const explicitOrder = new Map((input.pkg?.deployables ?? []).map((d) => [d.name, d.order]));
  const steps = yield* stepsFor(delta, sortedHosts(input.hosts), types, (name) => explicitOrder.get(name), errors);
  if (errors.length > 0) throw planningError(what, errors);
  yield;
  return {
    kind: 'UNDEPLOY',
    deployeds: [],
    delta,
    phases: [{ description: `Undeploy ${current.application} from ${current.environment}`, blocks: toBlocks(steps) }],
  };
}

/** The hosts `deployable` maps to, in the order of `hosts`. */
function hostsOf(deployable: Deployable, hosts: Host[]): Host[] {
  return deployable.tags.length === 0 ? hosts : hosts.filter((host) => mapsTo(deployable, host));
}

/** A deployable with tags goes to the hosts sharing at least one; without tags, to every host. */
function mapsTo(deployable: Deployable, host: Host): boolean {
  return deployable.tags.length === 0 || deployable.tags.some((tag) => host.tags.includes(tag));
}

/**
 * The plan's (deployable, host) pairs: the mapped ones and the deployeds of `current` that are
 * not. Linear in the mapped pairs and the deployeds, with no set per deployable: this runs before
 * the limit is known to hold.
 */
function countPairs(deployables: Deployable[], mappedHosts: Host[][], hosts: Host[], current: DeployedApplication | null): number {
  const deployableByName = new Map(deployables.map((d) => [d.name, d]));
  const hostByName = new Map(hosts.map((h) => [h.name, h]));
  const stays = (deployed: Deployed) => {
    const deployable = deployableByName.get(deployed.deployable);
    const host = hostByName.get(deployed.host);
    return deployable !== undefined && host !== undefined && mapsTo(deployable, host);
  };
  const leaving = (current?.deployeds ?? []).filter((d) => !stays(d)).length;
  return mappedHosts.reduce((sum, list) => sum + list.length, 0) + leaving;
}

/**
 * Refuses a plan of more pairs than the limit, naming the numbers: its cost (planning time,
 * stored plan, task view) grows with them, and such a plan is better split into environments.
 */
function refuseOverLimit(what: string, pairs: number, deployables: number, hosts: number, limits: PlanLimits | undefined): void {
  const max = limits?.maxSteps ?? DEFAULT_MAX_PLAN_STEPS;
  if (pairs <= max) return;
  const message =
    `${pairs} (deployable, host) pairs (${deployables} deployables, ${hosts} hosts) are more than a plan may have, ` +
    `${max} (task.maxPlanSteps); deploy to smaller environments or raise the limit`;
  throw new PlanningError(`cannot plan the ${what}: ${message}`, [{ field: 'hosts', message }]);
}

/** The deployable's properties with placeholders resolved, checked again by its type. */
function resolveDeployable(
  deployable: Deployable,
  environment: Environment,
  types: PluginRegistry,
  errors: FieldError[],
): Record<string, unknown> {
  const unresolved: FieldError[] = [];
  const lookup = (key: string, field: string): string | undefined => {
    if (Object.hasOwn(environment.dictionary, key)) return environment.dictionary[key];
    // A secret resolves to its sealed value: plans, previews and deployeds carry only ciphertext,
    // which the worker opens as the step runs.
    const secrets = environment.secrets ?? {};
    if (Object.hasOwn(secrets, key)) return secrets[key];
    unresolved.push({ field, message: `unresolved placeholder {{${key}}}` });
    return undefined;
  };
  // The type resolves its own placeholders: cmd.Command passes values to the shell as variables, never as code.
  const properties = types.resolvePlaceholders(deployable.type, deployable.properties, lookup, deployable.name);
  errors.push(...unresolved);
  if (!types.hasCiType(deployable.type)) {
    errors.push({ field: `${deployable.name}.type`, message: `unknown type "${deployable.type}"; no plugin registers it` });
  } else if (unresolved.length === 0) {
    // A resolved value may still be wrong, e.g. a relative targetPath or a timeout of "soon".
    errors.push(...types.validate(deployable.type, properties, deployable.name));
  }
  return properties;
}

/**
 * The steps of the changes. CREATE and MODIFY take the deployable's order (or its type's
 * default); a DESTROY takes 100 minus that, so that things are removed in the reverse order
 * they were created in.
 */
function* stepsFor(
  delta: Delta[],
  hosts: Host[],
  types: PluginRegistry,
  explicitOrder: (deployable: string) => number | undefined,
  errors: FieldError[],
): Generator<void, StepSpec[], void> {
  const hostByName = new Map(hosts.map((h) => [h.name, h]));
  const steps: StepSpec[] = [];
  for (const [i, change] of delta.entries()) {
    if (chunkEnds(i + 1)) yield;
    if (change.operation === 'NOOP') continue;
    const operation: DeploymentOperation = change.operation;
    const deployed = (operation === 'DESTROY' ? change.previous : change.next) as Deployed;
    const host = hostByName.get(deployed.host);
    if (!host) {
      errors.push({
        field: `${deployed.deployable}.host`,
        message: `host ${deployed.host} holds ${deployed.deployable} but is not a host of the environment; add it back to remove it`,
      });
      continue;
    }
    if (!types.hasCiType(deployed.type)) {
      if (operation === 'DESTROY') {
        errors.push({ field: `${deployed.deployable}.type`, message: `unknown type "${deployed.type}"; no plugin registers it` });
      }
      continue;
    }
    const type = types.ciType(deployed.type);
    const description = type.describeStep(operation, {
      deployable: deployed.deployable,
      host: deployed.host,
      properties: deployed.properties,
    });
    if (description === undefined) continue;
    const order = explicitOrder(deployed.deployable) ?? type.defaultOrder;
    steps.push({
      description,
      order: operation === 'DESTROY' ? 100 - order : order,
      ciType: deployed.type,
      operation,
      deployable: deployed.deployable,
      target: { name: host.name, type: host.type, properties: host.properties },
      properties: deployed.properties,
    });
  }
  return steps;
}

function sortedHosts(hosts: Host[]): Host[] {
  return [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function keyOf(deployed: Deployed): string {
  return JSON.stringify([deployed.deployable, deployed.host]);
}

function planningError(what: string, errors: FieldError[]): PlanningError {
  const [first] = errors;
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return new PlanningError(`cannot plan the ${what}: ${first.field} ${first.message}${more}`, errors);
}

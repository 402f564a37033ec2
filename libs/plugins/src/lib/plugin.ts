import { FieldError } from '@shipdeck/errors';
import { StepContext } from '@shipdeck/tasks';
import { PlaceholderLookup } from './placeholders';

/** The operations of a deployment step, in the order a deployable's life goes through them. */
export const DEPLOYMENT_OPERATIONS = ['CREATE', 'MODIFY', 'DESTROY'] as const;
export type DeploymentOperation = (typeof DEPLOYMENT_OPERATIONS)[number];

/** What a step would change: one deployable on one host, with its properties resolved. */
export interface StepSubject {
  deployable: string;
  host: string;
  properties: Record<string, unknown>;
}

/**
 * A CI type: the kind of a deployable (`file.File`, `cmd.Command`…) and the implementation of its
 * steps. A step of this type reaches {@link CiTypeDefinition.execute} with `ctx.step.operation` one
 * of CREATE, MODIFY, DESTROY and `ctx.step.properties` resolved.
 */
export interface CiTypeDefinition {
  /** Unique among all plugins, e.g. `file.File`; names starting with `host.` are reserved. */
  name: string;
  /** Step order (integer 0..100) when the manifest gives none. */
  defaultOrder: number;
  /**
   * Checks type-specific properties; each error's field is `fieldPrefix` + `.` + the property,
   * e.g. `deployables[1].targetPath`. Called at import, with placeholders unresolved, and by the
   * planner with them resolved, so a value containing `{{…}}` must pass format checks.
   */
  validate(properties: Record<string, unknown>, fieldPrefix: string): FieldError[];
  /**
   * The description of the step that carries out `operation` for `subject`, or undefined when
   * the operation needs no step (e.g. a command without `destroy` has nothing to undo).
   */
  describeStep(operation: DeploymentOperation, subject: StepSubject): string | undefined;
  /** Runs one step; rejects when it failed. Must stop at once when `ctx.signal` aborts. */
  execute(ctx: StepContext): Promise<void>;
  /**
   * Resolves the `{{KEY}}` placeholders of a deployable's properties against an environment.
   * Optional: by default every placeholder is replaced by its value, as text. A type whose
   * properties are code (shell text, scripts, URLs) resolves them itself so that a value can
   * never become code: `cmd.Command` writes a reference to an environment variable in its shell
   * text and passes the value in that variable (docs/plugins.md). Each property's field is
   * `fieldPrefix.property`, as the lookup expects.
   */
  resolvePlaceholders?(properties: Record<string, unknown>, lookup: PlaceholderLookup, fieldPrefix: string): Record<string, unknown>;
}

/** Runs one control task step on a host; `ctx.step.properties` are the control's parameters. */
export type ControlExecutor = (ctx: StepContext) => Promise<void>;

/**
 * A host type (`local`, later `ssh`) and the control tasks it offers. Control steps have ciType
 * `host.<name>` and the control name as operation.
 */
export interface HostTypeDefinition {
  name: string;
  controls: Record<string, ControlExecutor>;
  /**
   * Checks a host's type-specific properties (`address`, `username`… for `ssh`); each error's
   * field is `fieldPrefix` + `.` + the property. Optional: host types without properties need none.
   */
  validate?(properties: Record<string, unknown>, fieldPrefix: string): FieldError[];
  /**
   * Checks the parameters of a control task when it is created (a bad one is a 400 naming
   * `fieldPrefix.parameter`); `control` is one of {@link HostTypeDefinition.controls}. Optional:
   * without it any parameters are accepted and the control checks them when it runs.
   */
  validateControl?(control: string, parameters: Record<string, unknown>, fieldPrefix: string): FieldError[];
  /**
   * Properties whose values are secrets, as dotted paths (`password`, `jumpHost.password`): a
   * master stores them encrypted, the API masks them, the worker opens them as a step runs.
   */
  secretProperties?: readonly string[];
}

/** What a plugin module exports as `plugin`; built-in and external plugins alike. */
export interface ShipdeckPlugin {
  /** Shown in errors and logs; unique among registered plugins. */
  name: string;
  ciTypes?: CiTypeDefinition[];
  hostTypes?: HostTypeDefinition[];
}

/** The ciType of the steps of control tasks on hosts of the given type. */
export function hostStepType(hostType: string): string {
  return `${HOST_STEP_PREFIX}${hostType}`;
}

/** Prefix of the ciType of host control steps. */
export const HOST_STEP_PREFIX = 'host.';

const VERBS: Record<DeploymentOperation, string> = { CREATE: 'Create', MODIFY: 'Modify', DESTROY: 'Destroy' };

/** The usual step description: `Create app-config on local-1`. */
export function describeDeploymentStep(operation: DeploymentOperation, subject: StepSubject): string {
  return `${VERBS[operation]} ${subject.deployable} on ${subject.host}`;
}

/** Whether `operation` is one of CREATE, MODIFY, DESTROY. */
export function isDeploymentOperation(operation: string): operation is DeploymentOperation {
  return (DEPLOYMENT_OPERATIONS as readonly string[]).includes(operation);
}

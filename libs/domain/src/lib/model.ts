/** A machine steps run against. `local` is the worker's own machine. */
export interface Host {
  name: string;
  type: string;
  tags: string[];
  /** Type-specific properties (address, user… for later host types). */
  properties: Record<string, unknown>;
}

/** A named set of hosts with the placeholder values deployments to it resolve. */
export interface Environment {
  name: string;
  hosts: string[];
  dictionary: Record<string, string>;
  /**
   * Secret entries, placeholders like the dictionary's: key → sealed value (see `SecretBox`).
   * Stored encrypted, never shown (the API masks them), opened by the worker only as a step runs.
   * A key is in `dictionary` or here, never both.
   */
  secrets?: Record<string, string>;
}

/** One deployable of a package. `type` names the CI type that a plugin registers. */
export interface Deployable {
  name: string;
  type: string;
  tags: string[];
  /** Step order 0..100; the CI type's default when the manifest gives none. */
  order?: number;
  /** Every other manifest field, as written (placeholders unresolved). */
  properties: Record<string, unknown>;
}

/** An application version, as imported from a manifest. */
export interface PackageVersion {
  application: string;
  version: string;
  deployables: Deployable[];
  importedAt?: string;
}

export const DEPLOYMENT_KINDS = ['INITIAL', 'UPDATE', 'UNDEPLOY'] as const;
export type DeploymentKind = (typeof DEPLOYMENT_KINDS)[number];

export const DELTA_OPERATIONS = ['CREATE', 'MODIFY', 'DESTROY', 'NOOP'] as const;
export type DeltaOperation = (typeof DELTA_OPERATIONS)[number];

/** A deployable placed on a host, with its properties resolved against the environment's dictionary. */
export interface Deployed {
  deployable: string;
  type: string;
  host: string;
  properties: Record<string, unknown>;
}

/** What an environment holds of one application. */
export interface DeployedApplication {
  environment: string;
  application: string;
  version: string;
  deployeds: Deployed[];
  updatedAt?: string;
}

/** One change between what is deployed and what is wanted. */
export interface Delta {
  operation: DeltaOperation;
  /** The deployed before the change (MODIFY, DESTROY, NOOP). */
  previous?: Deployed;
  /** The deployed after the change (CREATE, MODIFY, NOOP). */
  next?: Deployed;
}

import { ConflictError, ErrorCode, NotFoundError, ValidationError } from '@shipdeck/errors';
import { DeployedApplication, Environment, Host, PackageVersion, SecretBox, parseManifest } from '@shipdeck/domain';
import { Logger } from '@shipdeck/logging';
import { Stores } from '@shipdeck/persistence';
import { PluginRegistry } from '@shipdeck/plugins';
import { flattenSteps, TaskRecord } from '@shipdeck/tasks';
import { packageDigest } from './package-digest';
import { SecretSealing } from './secret-sealing';

/** A package version as the catalog answers it: with its content digest (see {@link packageDigest}). */
export type ImportedPackage = PackageVersion & { digest: string };

/** What {@link CatalogService} needs. */
export interface CatalogServiceOptions {
  /** `tasks` is read to refuse deleting what an unfinished task uses. */
  stores: Pick<Stores, 'hosts' | 'environments' | 'packages' | 'deployed' | 'tasks'>;
  /** Knows the host types and deployable types a manifest may name. */
  registry: PluginRegistry;
  logger: Logger;
  /** Seals secret dictionary entries and secret host properties; without it, secrets are refused. */
  secrets?: SecretBox | null;
}

/**
 * The catalog (spec §6): hosts, environments (with what is deployed to them) and imported
 * packages. Every lookup that finds nothing raises the NotFoundError of its kind, so the other
 * services use these lookups rather than the stores.
 */
export class CatalogService {
  private readonly sealing: SecretSealing;

  constructor(private readonly options: CatalogServiceOptions) {
    this.sealing = new SecretSealing(options.secrets ?? null);
  }

  private get stores() {
    return this.options.stores;
  }

  /**
   * Creates or replaces a host; refuses a host type no plugin provides. The properties its type
   * declares secret are stored sealed (and answered so: the API masks them).
   */
  async putHost(incoming: Host): Promise<{ created: boolean; host: Host }> {
    const type = this.options.registry.hostType(incoming.type);
    const stored = await this.stores.hosts.get(incoming.name);
    const host = this.sealing.host(incoming, type.secretProperties ?? [], stored);
    await this.stores.hosts.put(host);
    return { created: stored === null, host };
  }

  /** One host; HOST_NOT_FOUND when there is none. */
  async getHost(name: string): Promise<Host> {
    return found(await this.stores.hosts.get(name), () => hostNotFound(name));
  }

  /** Every host. */
  listHosts(): Promise<Host[]> {
    return this.stores.hosts.list();
  }

  /**
   * Deletes a host; HOST_NOT_FOUND when there is none. CONFLICT (409), naming the users, while an
   * environment lists it, a deployed application has deployeds on it (its undeployment needs the
   * host), or an unfinished task runs steps on it.
   */
  async deleteHost(name: string): Promise<void> {
    await this.getHost(name);
    const users: string[] = [];
    const environments = await this.stores.environments.list();
    const listing = environments.filter((e) => e.hosts.includes(name)).map((e) => e.name);
    if (listing.length > 0) users.push(`environment${plural(listing)} ${listing.join(', ')}`);
    for (const environment of environments) {
      for (const app of await this.stores.deployed.listForEnvironment(environment.name)) {
        if (app.deployeds.some((d) => d.host === name)) {
          users.push(`${app.application} ${app.version} deployed to ${environment.name}`);
        }
      }
    }
    const tasks = (await this.stores.tasks.list()).filter((t) => usesHost(t, name));
    users.push(...tasks.map(taskLabel));
    if (users.length > 0) throw new ConflictError(`host ${name} is in use by ${users.join('; ')}; it cannot be deleted`);
    if (!(await this.stores.hosts.delete(name))) throw hostNotFound(name);
  }

  /**
   * Deletes an environment; ENVIRONMENT_NOT_FOUND when there is none. CONFLICT (409), naming
   * them, while applications are deployed to it or unfinished tasks deploy to it.
   */
  async deleteEnvironment(name: string): Promise<void> {
    await this.getEnvironment(name);
    const users: string[] = [];
    const deployed = await this.stores.deployed.listForEnvironment(name);
    users.push(...deployed.map((app) => `deployed application ${app.application} ${app.version}`));
    users.push(...(await this.stores.tasks.list({ environment: name })).map(taskLabel));
    if (users.length > 0) {
      throw new ConflictError(`environment ${name} is in use by ${users.join('; ')}; undeploy, archive or cancel first`);
    }
    if (!(await this.stores.environments.delete(name))) throw environmentNotFound(name);
  }

  /**
   * Creates or replaces an environment; every host it names must exist (one detail per missing
   * host), and a host holding deployeds of an application deployed there cannot be dropped (409).
   * Its `secrets` (plain values from the client) are stored sealed, as {@link SecretSealing} says.
   */
  async putEnvironment(incoming: Environment): Promise<{ created: boolean; environment: Environment }> {
    const stored = await this.stores.environments.get(incoming.name);
    const environment = this.sealing.environment(incoming, stored);
    const missing: { field: string; message: string }[] = [];
    for (const [i, name] of environment.hosts.entries()) {
      if (await this.stores.hosts.get(name)) continue;
      missing.push({ field: `hosts[${i}]`, message: `host ${name} does not exist; create it with PUT /api/v1/hosts/${name}` });
    }
    if (missing.length > 0) throw new ValidationError('environment names hosts that do not exist', missing);
    // A host may leave the environment only once nothing deployed there lives on it: the
    // undeployment of what it holds needs it.
    const holding = (await this.stores.deployed.listForEnvironment(environment.name)).flatMap((app) =>
      [...new Set(app.deployeds.map((d) => d.host))]
        .filter((host) => !environment.hosts.includes(host))
        .map((host) => `host ${host} holds ${app.application} ${app.version}`),
    );
    if (holding.length > 0) {
      throw new ConflictError(
        `environment ${environment.name} cannot drop hosts still in use: ${holding.join('; ')}; undeploy first (the undeployment needs the host)`,
      );
    }
    await this.stores.environments.put(environment);
    return { created: stored === null, environment };
  }

  /** One environment; ENVIRONMENT_NOT_FOUND when there is none. */
  async getEnvironment(name: string): Promise<Environment> {
    return found(await this.stores.environments.get(name), () => environmentNotFound(name));
  }

  /** Every environment. */
  listEnvironments(): Promise<Environment[]> {
    return this.stores.environments.list();
  }

  /** The hosts of an environment, in its order; a host deleted since is a ValidationError. */
  async hostsOf(environment: Environment): Promise<Host[]> {
    const hosts: Host[] = [];
    for (const name of environment.hosts) {
      const host = await this.stores.hosts.get(name);
      if (!host) {
        throw new ValidationError(`environment ${environment.name} names host ${name}, which does not exist`, [
          { field: 'environment', message: `host ${name} of environment ${environment.name} does not exist` },
        ]);
      }
      hosts.push(host);
    }
    return hosts;
  }

  /** What is deployed to an environment, per application. */
  async getDeployed(environment: string): Promise<DeployedApplication[]> {
    await this.getEnvironment(environment);
    return this.stores.deployed.listForEnvironment(environment);
  }

  /**
   * Validates a parsed manifest (any shape) and imports it; a ValidationError names every bad
   * field. Package versions are immutable: importing a version again with the same content (the
   * same digest) changes nothing (`created: false`); with different content it is a CONFLICT (409)
   * naming both digests.
   */
  async importPackage(manifest: unknown): Promise<{ created: boolean; pkg: ImportedPackage }> {
    const parsed = parseManifest(manifest, this.options.registry);
    const digest = packageDigest(parsed);
    const { application, version } = parsed;
    // `add` never replaces: of concurrent imports of one version, one inserts and the others
    // compare with what it stored.
    const created = await this.stores.packages.add(parsed);
    const stored = await this.getPackage(application, version);
    if (stored.digest !== digest) {
      throw new ConflictError(
        `${application} ${version} was already imported with different content (${stored.digest}, this one is ${digest}); ` +
          'package versions are immutable: import it under a new version',
      );
    }
    if (created) this.options.logger.info('package imported', { application, version, digest });
    else this.options.logger.info('package already imported with the same content; nothing changed', { application, version, digest });
    return { created, pkg: stored };
  }

  /** Every imported application with its versions, in import order. */
  listApplications(): Promise<{ name: string; versions: string[] }[]> {
    return this.stores.packages.listApplications();
  }

  /** The versions of an application; APPLICATION_NOT_FOUND when none was imported. */
  async listVersions(application: string): Promise<string[]> {
    return found(await this.stores.packages.listVersions(application), () => applicationNotFound(application));
  }

  /** One version of an application; the error tells a missing application from a missing version. */
  async getPackage(application: string, version: string): Promise<ImportedPackage> {
    const pkg = await this.stores.packages.get(application, version);
    if (pkg) return { ...pkg, digest: packageDigest(pkg) };
    const versions = await this.listVersions(application);
    throw new NotFoundError(
      ErrorCode.VERSION_NOT_FOUND,
      `application ${application} has no version ${version} (known: ${versions.join(', ') || 'none'})`,
    );
  }

  /** What is deployed of one application to one environment, null when nothing is. */
  deployedApplication(environment: string, application: string): Promise<DeployedApplication | null> {
    return this.stores.deployed.get(environment, application);
  }
}

function found<T>(value: T | null, notFound: () => NotFoundError): T {
  if (value === null) throw notFound();
  return value;
}

function environmentNotFound(name: string): NotFoundError {
  return new NotFoundError(ErrorCode.ENVIRONMENT_NOT_FOUND, `environment ${name} does not exist`);
}

/** Whether a task's control or any of its steps targets the host. */
function usesHost(task: TaskRecord, host: string): boolean {
  return task.control?.target === host || flattenSteps(task.plan).some((step) => step.target.name === host);
}

/** `task 1c2d… (PENDING: Deploy petclinic 1.0.0 to dev)`: how a 409 names a task in the way. */
export function taskLabel(task: Pick<TaskRecord, 'id' | 'state' | 'description'>): string {
  return `task ${task.id} (${task.state}: ${task.description})`;
}

function plural(items: readonly unknown[]): string {
  return items.length === 1 ? '' : 's';
}

function hostNotFound(name: string): NotFoundError {
  return new NotFoundError(ErrorCode.HOST_NOT_FOUND, `host ${name} does not exist`);
}

function applicationNotFound(application: string): NotFoundError {
  return new NotFoundError(ErrorCode.APPLICATION_NOT_FOUND, `application ${application} does not exist`);
}

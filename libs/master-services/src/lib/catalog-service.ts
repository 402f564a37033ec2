import { ErrorCode, NotFoundError, ValidationError } from '@shipdeck/errors';
import { DeployedApplication, Environment, Host, PackageVersion, parseManifest } from '@shipdeck/domain';
import { Logger } from '@shipdeck/logging';
import { Stores } from '@shipdeck/persistence';
import { PluginRegistry } from '@shipdeck/plugins';

/** What {@link CatalogService} needs. */
export interface CatalogServiceOptions {
  stores: Pick<Stores, 'hosts' | 'environments' | 'packages' | 'deployed'>;
  /** Knows the host types and deployable types a manifest may name. */
  registry: PluginRegistry;
  logger: Logger;
}

/**
 * The catalog (spec §6): hosts, environments (with what is deployed to them) and imported
 * packages. Every lookup that finds nothing raises the NotFoundError of its kind, so the other
 * services use these lookups rather than the stores.
 */
export class CatalogService {
  constructor(private readonly options: CatalogServiceOptions) {}

  private get stores() {
    return this.options.stores;
  }

  /** Creates or replaces a host; refuses a host type no plugin provides. */
  async putHost(host: Host): Promise<{ created: boolean; host: Host }> {
    this.options.registry.hostType(host.type);
    const created = (await this.stores.hosts.get(host.name)) === null;
    await this.stores.hosts.put(host);
    return { created, host };
  }

  /** One host; HOST_NOT_FOUND when there is none. */
  async getHost(name: string): Promise<Host> {
    return found(await this.stores.hosts.get(name), () => hostNotFound(name));
  }

  /** Every host. */
  listHosts(): Promise<Host[]> {
    return this.stores.hosts.list();
  }

  /** Deletes a host; HOST_NOT_FOUND when there is none. */
  async deleteHost(name: string): Promise<void> {
    if (!(await this.stores.hosts.delete(name))) throw hostNotFound(name);
  }

  /** Creates or replaces an environment; every host it names must exist (one detail per missing host). */
  async putEnvironment(environment: Environment): Promise<{ created: boolean; environment: Environment }> {
    const missing: { field: string; message: string }[] = [];
    for (const [i, name] of environment.hosts.entries()) {
      if (await this.stores.hosts.get(name)) continue;
      missing.push({ field: `hosts[${i}]`, message: `host ${name} does not exist; create it with PUT /api/v1/hosts/${name}` });
    }
    if (missing.length > 0) throw new ValidationError('environment names hosts that do not exist', missing);
    const created = (await this.stores.environments.get(environment.name)) === null;
    await this.stores.environments.put(environment);
    return { created, environment };
  }

  /** One environment; ENVIRONMENT_NOT_FOUND when there is none. */
  async getEnvironment(name: string): Promise<Environment> {
    return found(
      await this.stores.environments.get(name),
      () => new NotFoundError(ErrorCode.ENVIRONMENT_NOT_FOUND, `environment ${name} does not exist`),
    );
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

  /** Validates a parsed manifest (any shape) and imports it; a ValidationError names every bad field. */
  async importPackage(manifest: unknown): Promise<PackageVersion> {
    const pkg = parseManifest(manifest, this.options.registry);
    await this.stores.packages.put(pkg);
    this.options.logger.info('package imported', { application: pkg.application, version: pkg.version });
    return (await this.stores.packages.get(pkg.application, pkg.version)) ?? pkg;
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
  async getPackage(application: string, version: string): Promise<PackageVersion> {
    const pkg = await this.stores.packages.get(application, version);
    if (pkg) return pkg;
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

function hostNotFound(name: string): NotFoundError {
  return new NotFoundError(ErrorCode.HOST_NOT_FOUND, `host ${name} does not exist`);
}

function applicationNotFound(application: string): NotFoundError {
  return new NotFoundError(ErrorCode.APPLICATION_NOT_FOUND, `application ${application} does not exist`);
}

import { EntityManager } from 'typeorm';
import { DeployedApplication, Environment, Host, PackageVersion } from '@shipdeck/domain';
import { Database } from './database';
import { DeployedApplicationRow, EnvironmentRow, HostRow, PackageRow } from './entities';
import { Clock, values } from './row-mapping';
import { DeployedStore, EnvironmentStore, HostStore, PackageStore } from './stores';

/*
 * The catalog: hosts, environments, packages and what each environment holds. Rows are read
 * through entities, so JSON columns arrive parsed and time columns as ISO strings (transformer).
 */

/** Hosts by name. */
export class TypeOrmHostStore implements HostStore {
  constructor(private readonly db: Database) {}

  put(host: Host): Promise<void> {
    return this.db.run(`saving host ${host.name}`, async (m) => {
      await m.upsert(
        this.db.entities.host,
        values<HostRow>({ name: host.name, type: host.type, tags: host.tags, properties: host.properties }),
        ['name'],
      );
    });
  }

  get(name: string): Promise<Host | null> {
    return this.db.run(`reading host ${name}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.host, { name });
      return row ? hostFromRow(row) : null;
    });
  }

  list(): Promise<Host[]> {
    return this.db.run('listing hosts', async (m) => {
      const rows = await m.find(this.db.entities.host, { order: { name: 'ASC' } });
      return rows.map(hostFromRow);
    });
  }

  delete(name: string): Promise<boolean> {
    return this.db.run(`deleting host ${name}`, async (m) => {
      const result = await m.delete(this.db.entities.host, { name });
      return (result.affected ?? 0) > 0;
    });
  }
}

function hostFromRow(row: HostRow): Host {
  return { name: row.name, type: row.type, tags: row.tags, properties: row.properties };
}

/** Environments by name. */
export class TypeOrmEnvironmentStore implements EnvironmentStore {
  constructor(private readonly db: Database) {}

  put(environment: Environment): Promise<void> {
    return this.db.run(`saving environment ${environment.name}`, async (m) => {
      await m.upsert(
        this.db.entities.environment,
        values<EnvironmentRow>({ name: environment.name, hosts: environment.hosts, dictionary: environment.dictionary }),
        ['name'],
      );
    });
  }

  get(name: string): Promise<Environment | null> {
    return this.db.run(`reading environment ${name}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.environment, { name });
      return row ? environmentFromRow(row) : null;
    });
  }

  list(): Promise<Environment[]> {
    return this.db.run('listing environments', async (m) => {
      const rows = await m.find(this.db.entities.environment, { order: { name: 'ASC' } });
      return rows.map(environmentFromRow);
    });
  }
}

function environmentFromRow(row: EnvironmentRow): Environment {
  return { name: row.name, hosts: row.hosts, dictionary: row.dictionary };
}

/** Packages in import order: the database numbers each (application, version) at its first import. */
export class TypeOrmPackageStore implements PackageStore {
  constructor(
    private readonly db: Database,
    private readonly now: Clock,
  ) {}

  put(pkg: PackageVersion): Promise<void> {
    return this.db.run(`importing ${pkg.application} ${pkg.version}`, async (m) => {
      await m.upsert(
        this.db.entities.package,
        values<PackageRow>({
          application: pkg.application,
          version: pkg.version,
          deployables: pkg.deployables,
          imported_at: pkg.importedAt ?? this.now().toISOString(),
        }),
        ['application', 'version'],
      );
    });
  }

  get(application: string, version: string): Promise<PackageVersion | null> {
    return this.db.run(`reading ${application} ${version}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.package, { application, version });
      return row
        ? { application: row.application, version: row.version, deployables: row.deployables, importedAt: row.imported_at }
        : null;
    });
  }

  listApplications(): Promise<{ name: string; versions: string[] }[]> {
    return this.db.run('listing applications', async (m) => {
      const rows = await this.versionsInOrder(m);
      const applications = new Map<string, string[]>();
      for (const row of rows) {
        const versions = applications.get(row.application) ?? [];
        versions.push(row.version);
        applications.set(row.application, versions);
      }
      return [...applications].map(([name, versions]) => ({ name, versions }));
    });
  }

  listVersions(application: string): Promise<string[] | null> {
    return this.db.run(`listing the versions of ${application}`, async (m) => {
      const rows = await this.versionsInOrder(m, application);
      return rows.length === 0 ? null : rows.map((row) => row.version);
    });
  }

  private versionsInOrder(m: EntityManager, application?: string): Promise<{ application: string; version: string }[]> {
    const query = m
      .createQueryBuilder(this.db.entities.package, 'p')
      .select(['p.application', 'p.version'])
      .orderBy('p.seq', 'ASC');
    if (application !== undefined) query.where('p.application = :application', { application });
    return query.getMany();
  }
}

/** What each environment holds; written by the task store when it archives a task, read here. */
export class TypeOrmDeployedStore implements DeployedStore {
  constructor(private readonly db: Database) {}

  get(environment: string, application: string): Promise<DeployedApplication | null> {
    return this.db.run(`reading what ${environment} holds of ${application}`, async (m) => {
      const row = await m.findOneBy(this.db.entities.deployed, { environment, application });
      return row ? deployedFromRow(row) : null;
    });
  }

  listForEnvironment(environment: string): Promise<DeployedApplication[]> {
    return this.db.run(`listing what ${environment} holds`, async (m) => {
      const rows = await m.find(this.db.entities.deployed, { where: { environment }, order: { application: 'ASC' } });
      return rows.map(deployedFromRow);
    });
  }
}

function deployedFromRow(row: DeployedApplicationRow): DeployedApplication {
  return {
    environment: row.environment,
    application: row.application,
    version: row.version,
    deployeds: row.deployeds,
    updatedAt: row.updated_at,
  };
}

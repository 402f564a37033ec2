import { EntityManager } from 'typeorm';
import { DeployedApplication, Environment, Host, PackageVersion } from '@shipdeck/domain';
import { Database } from './database';
import { DeployedApplicationRow, EnvironmentRow, HostRow, PackageRow } from './entities';
import { EntityRows } from './entity-rows';
import { RawSql } from './raw-sql';
import { Clock, fromJson } from './row-mapping';
import { DeployedStore, EnvironmentStore, HostStore, PackageStore } from './stores';

/*
 * The catalog: hosts, environments, packages and what each environment holds. Rows are read
 * through entities, so JSON columns arrive parsed and time columns as ISO strings (transformer).
 */

/** Hosts by name. */
export class TypeOrmHostStore implements HostStore {
  private readonly rows: EntityRows<HostRow>;
  private readonly sql: RawSql;

  constructor(private readonly db: Database) {
    this.rows = new EntityRows(db, db.entities.host);
    this.sql = new RawSql(db.dialect);
  }

  put(host: Host): Promise<void> {
    const row: HostRow = { name: host.name, type: host.type, tags: host.tags, properties: host.properties };
    return this.rows.upsert(`saving host ${host.name}`, row, ['name']);
  }

  async get(name: string): Promise<Host | null> {
    // Hand-written: every control task reads its host, and TypeORM's query building cost more than the SELECT.
    const [row] = await this.db.run(`reading host ${name}`, (m) => this.sql.rows<HostRow>(m, 'SELECT * FROM hosts WHERE name = $1', [name]));
    return row ? hostFromRow(row) : null;
  }

  async list(): Promise<Host[]> {
    return (await this.rows.list('listing hosts', { order: { name: 'ASC' } })).map(hostFromRow);
  }

  delete(name: string): Promise<boolean> {
    return this.rows.delete(`deleting host ${name}`, { name });
  }
}

/** A host from its row, read through the entity or raw (SQLite's JSON columns then arrive as text). */
function hostFromRow(row: HostRow): Host {
  return { name: row.name, type: row.type, tags: fromJson(row.tags), properties: fromJson(row.properties) };
}

/** Environments by name. */
export class TypeOrmEnvironmentStore implements EnvironmentStore {
  private readonly rows: EntityRows<EnvironmentRow>;

  constructor(db: Database) {
    this.rows = new EntityRows(db, db.entities.environment);
  }

  put(environment: Environment): Promise<void> {
    const row: EnvironmentRow = {
      name: environment.name,
      hosts: environment.hosts,
      dictionary: environment.dictionary,
      secrets: environment.secrets ?? {},
    };
    return this.rows.upsert(`saving environment ${environment.name}`, row, ['name']);
  }

  async get(name: string): Promise<Environment | null> {
    const row = await this.rows.findOne(`reading environment ${name}`, { name });
    return row ? environmentFromRow(row) : null;
  }

  async list(): Promise<Environment[]> {
    return (await this.rows.list('listing environments', { order: { name: 'ASC' } })).map(environmentFromRow);
  }

  delete(name: string): Promise<boolean> {
    return this.rows.delete(`deleting environment ${name}`, { name });
  }
}

function environmentFromRow(row: EnvironmentRow): Environment {
  return { name: row.name, hosts: row.hosts, dictionary: row.dictionary, secrets: row.secrets ?? {} };
}

/** Packages in import order: the database numbers each (application, version) at its first import. */
export class TypeOrmPackageStore implements PackageStore {
  private readonly rows: EntityRows<PackageRow>;

  constructor(
    private readonly db: Database,
    private readonly now: Clock,
  ) {
    this.rows = new EntityRows(db, db.entities.package);
  }

  put(pkg: PackageVersion): Promise<void> {
    return this.rows.upsert(`importing ${pkg.application} ${pkg.version}`, this.rowOf(pkg), ['application', 'version']);
  }

  add(pkg: PackageVersion): Promise<boolean> {
    return this.rows.insertNew(`importing ${pkg.application} ${pkg.version}`, this.rowOf(pkg));
  }

  private rowOf(pkg: PackageVersion): PackageRow {
    return {
      application: pkg.application,
      version: pkg.version,
      deployables: pkg.deployables,
      imported_at: pkg.importedAt ?? this.now().toISOString(),
    };
  }

  async get(application: string, version: string): Promise<PackageVersion | null> {
    const row = await this.rows.findOne(`reading ${application} ${version}`, { application, version });
    return row ? { application: row.application, version: row.version, deployables: row.deployables, importedAt: row.imported_at } : null;
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
  private readonly rows: EntityRows<DeployedApplicationRow>;

  constructor(db: Database) {
    this.rows = new EntityRows(db, db.entities.deployed);
  }

  async get(environment: string, application: string): Promise<DeployedApplication | null> {
    const row = await this.rows.findOne(`reading what ${environment} holds of ${application}`, { environment, application });
    return row ? deployedFromRow(row) : null;
  }

  async listForEnvironment(environment: string): Promise<DeployedApplication[]> {
    const rows = await this.rows.list(`listing what ${environment} holds`, { where: { environment }, order: { application: 'ASC' } });
    return rows.map(deployedFromRow);
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

import { ErrorCode } from '@shipdeck/errors';
import { InMemoryMaster, petclinicManifest, startInMemoryMaster } from '../testing';
import { packageDigest } from './package-digest';

let master: InMemoryMaster;

beforeEach(async () => {
  master = await startInMemoryMaster();
  await master.seedCatalog();
});

afterEach(() => master.close());

/** Runs a deployment of petclinic 1.0.0 to dev through to DONE, so that dev holds it. */
async function deployAndArchive(): Promise<void> {
  const task = await master.services.deployments.createDeployment({ application: 'petclinic', version: '1.0.0', environment: 'dev' });
  await master.stores.tasks.compareAndSet(task.id, 'PENDING', { state: 'EXECUTED' });
  await master.services.tasks.operate(task.id, 'archive');
}

describe('CatalogService: package versions are immutable', () => {
  it('imports a version once; the same content again is a no-op with the same digest', async () => {
    const { catalog } = master.services;
    const first = await catalog.importPackage(petclinicManifest('1.0.0'));
    expect(first.created).toBe(true);
    expect(first.pkg.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Key order is not content.
    const reordered = Object.fromEntries(Object.entries(petclinicManifest('1.0.0')).reverse());
    const again = await catalog.importPackage(reordered);
    expect(again).toEqual({ created: false, pkg: first.pkg });
    expect(await catalog.listApplications()).toEqual([{ name: 'petclinic', versions: ['1.0.0'] }]);
  });

  it('refuses the same version with different content and keeps the first', async () => {
    const { catalog } = master.services;
    const { pkg } = await catalog.importPackage(petclinicManifest('1.0.0'));
    const changed = petclinicManifest('1.0.0');
    (changed['deployables'] as Record<string, unknown>[])[1]['content'] = 'pool=50';
    await expect(catalog.importPackage(changed)).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: expect.stringContaining(`petclinic 1.0.0 was already imported with different content (${pkg.digest}`),
    });
    expect(await catalog.getPackage('petclinic', '1.0.0')).toEqual(pkg);
  });

  it('computes the digest from the content, not the import time', () => {
    const pkg = { application: 'a', version: '1', deployables: [] };
    expect(packageDigest({ ...pkg })).toBe(packageDigest({ ...pkg, importedAt: '2030-01-01T00:00:00Z' } as typeof pkg));
    expect(packageDigest(pkg)).not.toBe(packageDigest({ ...pkg, version: '2' }));
  });
});

describe('CatalogService: what is in use cannot be deleted', () => {
  it('refuses to delete a host an environment lists, naming the environment', async () => {
    await expect(master.services.catalog.deleteHost('local')).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: 'host local is in use by environment dev; it cannot be deleted',
    });
    expect(await master.services.catalog.getHost('local')).toMatchObject({ name: 'local' });
  });

  it('refuses to drop a host holding deployeds from its environment, or to delete it', async () => {
    const { catalog } = master.services;
    await catalog.importPackage(petclinicManifest('1.0.0'));
    await deployAndArchive();
    await catalog.putHost({ name: 'other', type: 'local', tags: [], properties: {} });
    await expect(catalog.putEnvironment({ name: 'dev', hosts: ['other'], dictionary: { APP_HOME: '/opt/app' } })).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: 'environment dev cannot drop hosts still in use: host local holds petclinic 1.0.0; undeploy first (the undeployment needs the host)',
    });
    // Adding a host is fine.
    await catalog.putEnvironment({ name: 'dev', hosts: ['local', 'other'], dictionary: { APP_HOME: '/opt/app' } });
    await expect(catalog.deleteHost('local')).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: 'host local is in use by environment dev; petclinic 1.0.0 deployed to dev; it cannot be deleted',
    });
  });

  it('refuses to delete a host an unfinished control task targets, and deletes an unused one', async () => {
    const { catalog, controlTasks } = master.services;
    await catalog.putHost({ name: 'spare', type: 'local', tags: [], properties: {} });
    const task = await controlTasks.createControlTask({ target: 'spare', control: 'checkConnection' });
    await expect(catalog.deleteHost('spare')).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: `host spare is in use by task ${task.id} (PENDING: checkConnection on spare); it cannot be deleted`,
    });
    await master.services.tasks.operate(task.id, 'cancel');
    await catalog.deleteHost('spare');
    await expect(catalog.getHost('spare')).rejects.toMatchObject({ code: ErrorCode.HOST_NOT_FOUND });
    await expect(catalog.deleteHost('spare')).rejects.toMatchObject({ code: ErrorCode.HOST_NOT_FOUND });
  });

  it('refuses to delete an environment with an unfinished task or a deployed application, naming them', async () => {
    const { catalog, deployments } = master.services;
    await catalog.importPackage(petclinicManifest('1.0.0'));
    const pending = await deployments.createDeployment({ application: 'petclinic', version: '1.0.0', environment: 'dev' });
    await expect(catalog.deleteEnvironment('dev')).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: expect.stringContaining(`task ${pending.id} (PENDING: Deploy petclinic 1.0.0 to dev)`),
    });
    await master.services.tasks.operate(pending.id, 'cancel');
    await deployAndArchive();
    await expect(catalog.deleteEnvironment('dev')).rejects.toMatchObject({
      code: ErrorCode.CONFLICT,
      message: 'environment dev is in use by deployed application petclinic 1.0.0; undeploy, archive or cancel first',
    });
  });

  it('deletes an unused environment, then its host', async () => {
    const { catalog } = master.services;
    await catalog.deleteEnvironment('dev');
    await expect(catalog.getEnvironment('dev')).rejects.toMatchObject({ code: ErrorCode.ENVIRONMENT_NOT_FOUND });
    await catalog.deleteHost('local');
    expect(await catalog.listHosts()).toEqual([]);
  });
});

import { petclinicManifest } from '@shipdeck/master-services/testing';
import { useRestMaster } from '../../test-support/rest-master';
import { EventStream } from '../../test-support/sse';

const rest = useRestMaster({ seedCatalog: true });

beforeEach(async () => {
  await rest.master.services.catalog.putEnvironment({ name: 'prod', hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } });
  await rest.master.services.catalog.importPackage(petclinicManifest());
  // A second application: one environment holds one unfinished deployment per application.
  await rest.master.services.catalog.importPackage({ ...petclinicManifest(), application: 'vetclinic' });
});

const deploy = (environment: string, application = 'petclinic') =>
  rest.master.services.deployments.createDeployment({ application, version: '1.0.0', environment });

it('streams the current tasks of an environment, then their state changes, and `gone` when one leaves', async () => {
  const [dev1, dev2] = [await deploy('dev'), await deploy('dev', 'vetclinic')];
  await deploy('prod');
  const stream = await EventStream.open(rest.server, '/api/v1/events?environment=dev', rest.admin);
  const first = [await stream.next(), await stream.next()];
  expect(first.map((e) => [e.event, e.data['id'], e.data['state'], e.data['environment']]).sort()).toEqual(
    [
      ['task', dev1.id, 'PENDING', 'dev'],
      ['task', dev2.id, 'PENDING', 'dev'],
    ].sort(),
  );
  expect(await rest.master.stores.tasks.compareAndSet(dev1.id, 'PENDING', { state: 'SCHEDULED', scheduledAt: '2099-01-01T00:00:00.000Z' })).not.toBeNull();
  expect(await stream.next()).toMatchObject({ event: 'task', data: { id: dev1.id, state: 'SCHEDULED' } });
  expect(await rest.master.stores.tasks.remove(dev2.id)).toBe(true);
  expect(await stream.next()).toMatchObject({ event: 'gone', data: { id: dev2.id } });
  stream.close();
});

it('refuses an unknown state filter, and a request that does not accept an event stream', async () => {
  const accept = 'text/event-stream';
  expect((await rest.server.request('GET', '/api/v1/events?state=SLEEPING', { headers: { authorization: rest.admin, accept } })).status).toBe(400);
  const plain = await rest.server.request('GET', '/api/v1/events', { headers: { authorization: rest.admin, accept: 'application/json' } });
  expect(plain.status).toBe(400);
  expect(plain.json).toMatchObject({ error: { code: 'VALIDATION_FAILED', details: [{ field: 'Accept' }] } });
});

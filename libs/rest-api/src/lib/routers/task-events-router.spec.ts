import { petclinicManifest } from '@shipdeck/master-services/testing';
import { TaskRecord, TaskState } from '@shipdeck/tasks';
import { useRestMaster } from '../../test-support/rest-master';
import { EventStream } from '../../test-support/sse';

/*
 * The task event stream of the real REST app and master services (SQLite, in-process queue): the
 * test changes the task in the database the way workers do, and reads what the stream says.
 */

const rest = useRestMaster({ seedCatalog: true });

/** Imports petclinic and creates its deployment (PENDING); answers the stored task. */
async function pendingTask(): Promise<TaskRecord> {
  await rest.master.services.catalog.importPackage(petclinicManifest());
  const view = await rest.master.services.deployments.createDeployment({ application: 'petclinic', version: '1.0.0', environment: 'dev' });
  return (await rest.master.stores.tasks.get(view.id))!;
}

/** Sets the task's state and its first step's state, as a worker's checkpoint would. */
async function advance(task: TaskRecord, state: TaskState, firstStep: 'EXECUTING' | 'DONE'): Promise<void> {
  const current = (await rest.master.stores.tasks.get(task.id))!;
  current.plan.phases[0]!.blocks[0]!.steps[0]!.state = firstStep;
  expect(await rest.master.stores.tasks.compareAndSet(task.id, current.state, { state, plan: current.plan, workerId: rest.master.worker.workerId })).not.toBeNull();
}

it('replays the history, follows changes, and resumes after a reconnect without gaps or duplicates', async () => {
  const task = await pendingTask();
  const first = task.plan.phases[0]!.blocks[0]!.steps[0]!.path;
  await advance(task, 'EXECUTING', 'EXECUTING');
  await rest.master.stores.logs.append(task.id, first, 'line 1\n');

  const a = await EventStream.open(rest.server, `/api/v1/tasks/${task.id}/events`, rest.admin);
  const history = await a.untilState();
  // The running step says so before its output.
  expect(history.slice(0, 2)).toMatchObject([
    { event: 'step', data: { path: first, state: 'EXECUTING' } },
    { event: 'log', data: { path: first, text: 'line 1\n' } },
  ]);
  expect(history.at(-1)!.data).toEqual({ state: 'EXECUTING' });

  await rest.master.stores.logs.append(task.id, first, 'line 2\n');
  const second = await a.next();
  expect(second).toMatchObject({ event: 'log', data: { path: first, text: 'line 2\n' } });
  a.close();

  // While the client is away: more log, the step ends, the task is executed.
  await rest.master.stores.logs.append(task.id, first, 'line 3\n');
  await advance(task, 'EXECUTED', 'DONE');

  const b = await EventStream.open(rest.server, `/api/v1/tasks/${task.id}/events`, rest.admin, second.id);
  const resumed = await b.untilState();
  b.close();
  expect(resumed.map((e) => [e.event, e.data])).toEqual([
    ['log', { path: first, text: 'line 3\n' }],
    ['step', { path: first, state: 'DONE' }],
    ['state', { state: 'EXECUTED' }],
  ]);
  const text = [...history, second, ...resumed].filter((e) => e.event === 'log').map((e) => e.data['text']).join('');
  expect(text).toBe('line 1\nline 2\nline 3\n');
});

it('answers 404 for an unknown task, and ends the stream with `removed` when the task is removed', async () => {
  const missing = await rest.server.request('GET', '/api/v1/tasks/nope/events', { headers: { authorization: rest.admin, accept: 'text/event-stream' } });
  expect(missing.status).toBe(404);
  const task = await pendingTask();
  const stream = await EventStream.open(rest.server, `/api/v1/tasks/${task.id}/events`, rest.admin);
  await stream.untilState();
  expect(await rest.master.stores.tasks.remove(task.id)).toBe(true);
  expect(await stream.next()).toMatchObject({ event: 'removed', data: { taskId: task.id } });
  stream.close();
});

it('shows a task created started (start: true) QUEUED from its first event, its steps PENDING', async () => {
  const created = await rest.master.services.controlTasks.createControlTask({ target: 'local', control: 'checkConnection' }, { start: true });
  const stream = await EventStream.open(rest.server, `/api/v1/tasks/${created.id}/events`, rest.admin);
  const history = await stream.untilState();
  stream.close();
  expect(history.map((e) => [e.event, e.data])).toEqual([
    ['step', { path: created.steps[0]!.path, state: 'PENDING' }],
    ['state', { state: 'QUEUED' }],
  ]);
});

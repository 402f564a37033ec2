import type { ReadableStreamDefaultReader } from 'node:stream/web';
import { InMemoryMaster, petclinicManifest, startInMemoryMaster } from '@shipdeck/master-services/testing';
import { TaskRecord, TaskState } from '@shipdeck/tasks';
import { bearerFor, testAuth } from '../../test-support/auth';
import { memoryLogger } from '../../test-support/memory-logger';
import { TestServer, startTestServer } from '../../test-support/http';
import { createRestApp } from '../app';

/*
 * The task event stream of the real REST app and master services (SQLite, in-process queue): the
 * test changes the task in the database the way workers do, and reads what the stream says.
 */

let master: InMemoryMaster;
let server: TestServer;
let authorization: string;

beforeEach(async () => {
  const { logger } = memoryLogger();
  master = await startInMemoryMaster({ logger });
  await master.seedCatalog();
  const auth = testAuth(master.stores, logger);
  authorization = await bearerFor(auth.service, 'ada', 'admin');
  server = await startTestServer(createRestApp({ services: master.services, logger, auth }));
});

afterEach(async () => {
  await server.close();
  await master.close();
});

interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** An open event stream, read event by event. */
class EventStream {
  private buffer = '';
  private readonly queued: SseEvent[] = [];

  private constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  static async open(taskId: string, lastEventId?: string): Promise<EventStream> {
    const abort = new AbortController();
    const headers: Record<string, string> = { authorization, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const res = await fetch(`${server.baseUrl}/api/v1/tasks/${taskId}/events`, { headers, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    return new EventStream(res.body!.getReader(), abort);
  }

  /** The next event; fails after 5 s without one. */
  async next(): Promise<SseEvent> {
    const deadline = Date.now() + 5000;
    while (this.queued.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no event within 5 s')), Math.max(0, deadline - Date.now())))),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error('the stream ended');
      this.buffer += new TextDecoder().decode(chunk.value);
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((line) => !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
        if (fields['event']) this.queued.push({ id: fields['id']!, event: fields['event'], data: JSON.parse(fields['data']!) });
      }
    }
    return this.queued.shift()!;
  }

  /** Events up to and including the first `state` event. */
  async untilState(): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    for (let e = await this.next(); ; e = await this.next()) {
      events.push(e);
      if (e.event === 'state') return events;
    }
  }

  close(): void {
    this.abort.abort();
  }
}

/** Imports petclinic and creates its deployment (PENDING); answers the stored task. */
async function pendingTask(): Promise<TaskRecord> {
  await master.services.catalog.importPackage(petclinicManifest());
  const view = await master.services.deployments.createDeployment({ application: 'petclinic', version: '1.0.0', environment: 'dev' });
  return (await master.stores.tasks.get(view.id))!;
}

/** Sets the task's state and its first step's state, as a worker's checkpoint would. */
async function advance(task: TaskRecord, state: TaskState, firstStep: 'EXECUTING' | 'DONE'): Promise<void> {
  const current = (await master.stores.tasks.get(task.id))!;
  current.plan.phases[0]!.blocks[0]!.steps[0]!.state = firstStep;
  expect(await master.stores.tasks.compareAndSet(task.id, current.state, { state, plan: current.plan, workerId: master.worker.workerId })).not.toBeNull();
}

it('replays the history, follows changes, and resumes after a reconnect without gaps or duplicates', async () => {
  const task = await pendingTask();
  const first = task.plan.phases[0]!.blocks[0]!.steps[0]!.path;
  await advance(task, 'EXECUTING', 'EXECUTING');
  await master.stores.logs.append(task.id, first, 'line 1\n');

  const a = await EventStream.open(task.id);
  const history = await a.untilState();
  expect(history[0]).toMatchObject({ event: 'log', data: { path: first, text: 'line 1\n' } });
  expect(history.filter((e) => e.event === 'step').map((e) => e.data)).toContainEqual({ path: first, state: 'EXECUTING' });
  expect(history.at(-1)!.data).toEqual({ state: 'EXECUTING' });

  await master.stores.logs.append(task.id, first, 'line 2\n');
  const second = await a.next();
  expect(second).toMatchObject({ event: 'log', data: { path: first, text: 'line 2\n' } });
  a.close();

  // While the client is away: more log, the step ends, the task is executed.
  await master.stores.logs.append(task.id, first, 'line 3\n');
  await advance(task, 'EXECUTED', 'DONE');

  const b = await EventStream.open(task.id, second.id);
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
  const missing = await server.request('GET', '/api/v1/tasks/nope/events', { headers: { authorization } });
  expect(missing.status).toBe(404);
  const task = await pendingTask();
  const stream = await EventStream.open(task.id);
  await stream.untilState();
  expect(await master.stores.tasks.remove(task.id)).toBe(true);
  expect(await stream.next()).toMatchObject({ event: 'removed', data: { taskId: task.id } });
  stream.close();
});

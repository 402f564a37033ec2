/**
 * REST calls the process-level tests make to set a scene and drive tasks, each checking its
 * status (spec §2, §6): hosts, environments, packages, task creation and start, task reads.
 */
import type { ShownTaskState, TaskView } from '@shipdeck/tasks';
import { Api, Endpoint, clientOf, expectStatus, listAll, summarize } from './rest-client';

interface Created {
  taskId: string;
}

/** `PUT /environments/{name}` on `hosts`. */
export async function putEnvironment(client: Api, name: string, hosts: string[], dictionary: Record<string, string> = {}): Promise<void> {
  expectStatus(await client.put(`/environments/${name}`, { hosts, dictionary }), 201, `PUT /environments/${name}: `);
}

/** `PUT /hosts/{host}` (local) and `PUT /environments/{env}` for each environment, all on that host. */
export async function localEnvironments(client: Api, host: string, environments: string[]): Promise<void> {
  expectStatus(await client.put(`/hosts/${host}`, { type: 'local' }), 201, `PUT /hosts/${host}: `);
  for (const name of environments) await putEnvironment(client, name, [host]);
}

/** `PUT /hosts/{name}` of type `ledger` (the ledger test plugin) writing to `ledgerFile`. */
export async function putLedgerHost(client: Api, name: string, ledgerFile: string): Promise<void> {
  expectStatus(await client.put(`/hosts/${name}`, { type: 'ledger', properties: { ledgerFile } }), 201, `PUT /hosts/${name}: `);
}

/** `POST /packages`. */
export async function importPackage(client: Api, manifest: Record<string, unknown>): Promise<void> {
  expectStatus(await client.post('/packages', manifest), 201, 'POST /packages: ');
}

/** Imports `application` 1.0.0 made of `cmd.Command` deployables (name → create script), in this order. */
export async function importCommands(client: Api, application: string, commands: [name: string, create: string][]): Promise<void> {
  const deployables = commands.map(([name, create], i) => ({ name, type: 'cmd.Command', order: 10 + 10 * i, create }));
  await importPackage(client, { application, version: '1.0.0', deployables });
}

/**
 * Imports `application` 1.0.0 made of test.Ledger deployables writing to `ledgerFile`, one serial
 * step per entry of `sleepsMs` (orders 10, 20, …), deployables named `s1`, `s2`, ….
 */
export async function importLedgerPackage(client: Api, application: string, ledgerFile: string, sleepsMs: number[]): Promise<void> {
  await importPackage(client, {
    application,
    version: '1.0.0',
    deployables: sleepsMs.map((sleepMs, i) => ({ name: `s${i + 1}`, type: 'test.Ledger', order: 10 * (i + 1), ledgerFile, sleepMs })),
  });
}

/**
 * A `cmd.Command` script that records its start (its shell's pid, one line per run, in
 * `startedFile`) and then runs until `releaseFile` exists (at most `maxSeconds`): a step whose end
 * the test decides, instead of a sleep it hopes is long enough.
 */
export function heldScript(startedFile: string, releaseFile: string, maxSeconds = 60): string {
  const ticks = maxSeconds * 10;
  return `echo $$ >> ${startedFile}; i=0; while [ ! -f ${releaseFile} ] && [ $i -lt ${ticks} ]; do sleep 0.1; i=$((i+1)); done`;
}

/** `line-FROM` … `line-TO`: what a {@link talkerScript} prints. */
export const numberedLines = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `line-${from + i}`);

/**
 * A `cmd.Command` script that prints line-1 to line-3, waits until `releaseFile` exists (60 s at
 * most), then prints line-4 to line-6: a step that is logging when the test acts.
 */
export function talkerScript(releaseFile: string): string {
  return [
    `for l in ${numberedLines(1, 3).join(' ')}; do echo $l; done`,
    `i=0; while [ ! -f ${releaseFile} ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done`,
    `for l in ${numberedLines(4, 6).join(' ')}; do echo $l; done`,
  ].join('; ');
}

/** `POST /control-tasks`: a `record` control of the ledger test plugin on `target`; answers the task id. */
export async function createControl(client: Api, target: string, parameters: Record<string, unknown> = {}): Promise<string> {
  const body = { target, control: 'record', parameters };
  return expectStatus(await client.post<Created>('/control-tasks', body), 201, 'POST /control-tasks: ').taskId;
}

/** `POST /deployments`; answers the task id. */
export async function createDeployment(client: Api, application: string, version: string, environment: string): Promise<string> {
  const body = { application, version, environment };
  return expectStatus(await client.post<Created>('/deployments', body), 201, 'POST /deployments: ').taskId;
}

/** `POST /tasks/{id}/start`: 200 and QUEUED. */
export async function startTask(client: Api, id: string): Promise<TaskView> {
  const task = expectStatus(await client.post<TaskView>(`/tasks/${id}/start`), 200, `POST /tasks/${id}/start: `);
  if (task.state !== 'QUEUED') throw new Error(`task ${id} started, but answered ${task.state}, not QUEUED:\n${summarize(task)}`);
  return task;
}

/** Creates the deployment of `application` 1.0.0 to `environment` through `creator`, starts it through `starter`. */
export async function deploy(creator: Api, starter: Api, application: string, environment: string): Promise<string> {
  const taskId = await createDeployment(creator, application, '1.0.0', environment);
  await startTask(starter, taskId);
  return taskId;
}

/** Creates a `record` control task on `host` through `creator`, starts it through `starter`. */
export async function runControl(creator: Api, starter: Api, host: string, parameters: Record<string, unknown> = {}): Promise<string> {
  const taskId = await createControl(creator, host, parameters);
  await startTask(starter, taskId);
  return taskId;
}

/** `GET /tasks/{id}`, 200. */
export async function getTask(endpoint: Endpoint, id: string): Promise<TaskView> {
  const client = clientOf(endpoint);
  return expectStatus(await client.get<TaskView>(`/tasks/${id}`), 200, `GET ${client.baseUrl}/api/v1/tasks/${id}: `);
}

/** `GET /tasks`, 200, by id. */
export async function listTasks(endpoint: Endpoint): Promise<Map<string, TaskView>> {
  const tasks = await listAll<TaskView>(endpoint, '/tasks');
  return new Map(tasks.map((t) => [t.id, t]));
}

/** The state of each task of `ids` as one master shows it, in the order of `ids`. */
export async function taskStates(endpoint: Endpoint, ids: string[]): Promise<ShownTaskState[]> {
  return Promise.all(ids.map(async (id) => (await getTask(endpoint, id)).state));
}

/** A new API token of the test admin, for CLI runs (`SHIPDECK_TOKEN`). */
export async function adminToken(endpoint: Endpoint): Promise<string> {
  const created = expectStatus(await clientOf(endpoint).post<{ token: string }>('/tokens', { name: `cli-${Date.now()}` }), 201);
  return created.token;
}

/** `POST /workers/restore-ghost-tasks`, 200; answers the ids of the tasks restored. */
export async function restoreGhostTasks(client: Api): Promise<string[]> {
  return expectStatus(await client.post<{ tasks: string[] }>('/workers/restore-ghost-tasks'), 200, 'restore-ghost-tasks: ').tasks;
}

/** What the recovery tests check of a task: its state, its worker and the state of each step. */
export function outcomeOf(task: TaskView): { state: ShownTaskState; worker: string | null; steps: string[] } {
  return { state: task.state, worker: task.worker, steps: task.steps.map((s) => s.state) };
}

import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import type { DeployedApplication, Environment, Host, PackageVersion } from '@shipdeck/domain';
import type { TaskView } from '@shipdeck/tasks';
import { COMMANDS, CommandName, CommandSpec, Invocation, UsageError } from './args';
import { AUTH_HANDLERS } from './auth-commands';
import { hostDetails, table, taskDetails } from './format';
import { followStepLog, followTask, reportOutcome, taskLine } from './follow';
import { hostProperties } from './host-properties';
import { resolveTaskId, resolveWorkerId } from './resolve';
import { secretsOf } from './secret-flags';
import { CliError, messageOf, print, seg, Session } from './session';

/**
 * Answer of `POST /deployments`, `/undeployments`, `/control-tasks` (the REST layer's
 * `CreatedTask`, which this scope may not import). Spec §6 promises only `taskId`.
 */
interface CreatedTask {
  taskId: string;
  task?: TaskView;
}

/** A worker as `GET /workers` lists it (spec §6); read defensively, as a master of another version may answer it. */
interface WorkerSummary {
  id?: string;
  name?: string;
  address?: string;
  state?: string;
  deploymentTasks?: unknown;
  controlTasks?: unknown;
  capacity?: unknown;
  lastSeen?: unknown;
  /** A DISCONNECTED worker that left after draining (masters that report it). */
  drained?: unknown;
}

/** What `POST /packages` answers: the package, with its content digest on masters that compute one. */
type ImportedPackage = PackageVersion & { digest?: string };

/** Runs one parsed command and answers its exit code. */
type Handler = (session: Session, invocation: Invocation) => Promise<number>;

/** The implementation of every command of {@link COMMANDS}. */
export const HANDLERS: Record<Exclude<CommandName, 'help'>, Handler> = {
  import: async (s, { args }) => {
    const file = args['FILE'];
    const text = await readFile(file, 'utf8').catch((error: unknown) => {
      throw new CliError(`cannot read ${file}: ${messageOf(error)}`);
    });
    // JSON is sent as such; anything else as YAML, of which JSON is a subset anyway.
    const contentType = extname(file).toLowerCase() === '.json' ? 'application/json' : 'application/yaml';
    const { status, body } = await s.client.send<ImportedPackage>('POST', '/packages', { text, contentType });
    const digest = body.digest ? ` (${body.digest})` : '';
    // 200: this version was imported before with the same content; nothing changed.
    print(s, body, () => `${status === 200 ? 'already imported, unchanged:' : 'imported'} ${body.application} ${body.version}${digest}`);
    return 0;
  },

  deploy: async (s, { args, flags }) => {
    const request = {
      application: args['APP'],
      version: args['VERSION'],
      environment: args['ENV'],
      ...(flags.skip ? { skipSteps: flags.skip } : {}),
      ...(flags['pause-before'] ? { pauseBefore: flags['pause-before'] } : {}),
    };
    return createAndStart(s, '/deployments', request, flags.wait === true);
  },

  undeploy: async (s, { args, flags }) =>
    createAndStart(s, '/undeployments', { application: args['APP'], environment: args['ENV'] }, flags.wait === true),

  'tasks list': async (s, { flags }) => {
    const query = new URLSearchParams();
    if (flags.state) query.set('state', flags.state);
    if (flags.type) query.set('type', flags.type);
    if (flags.worker) query.set('worker', await resolveWorkerId(s, flags.worker));
    const qs = query.size > 0 ? `?${query}` : '';
    const body = await s.client.list<TaskView>(`/tasks${qs}`);
    print(s, body, () =>
      body.length === 0 ? 'no tasks' : table(['ID', 'TYPE', 'STATE', 'DESCRIPTION'], body.map((t) => [t.id, t.type, t.state, t.description])),
    );
    return 0;
  },

  'tasks show': async (s, { args }) => {
    const { body } = await s.client.json<TaskView>('GET', `/tasks/${seg(await resolveTaskId(s, args['ID']))}`);
    print(s, body, () => taskDetails(body));
    return 0;
  },

  'tasks start': async (s, { args, flags }) => {
    const task = await operate(s, args['ID'], 'start');
    if (!flags.wait) return printTask(s, task);
    if (!s.json) s.out(taskLine(task));
    return follow(s, task);
  },
  'tasks stop': async (s, { args }) => printTask(s, await operate(s, args['ID'], 'stop')),
  'tasks abort': async (s, { args }) => printTask(s, await operate(s, args['ID'], 'abort')),
  'tasks cancel': async (s, { args }) => printTask(s, await operate(s, args['ID'], 'cancel')),
  'tasks archive': async (s, { args }) => printTask(s, await operate(s, args['ID'], 'archive')),
  'tasks schedule': async (s, { args }) => {
    const id = await resolveTaskId(s, args['ID']);
    const { body } = await s.client.json<TaskView>('POST', `/tasks/${seg(id)}/schedule`, { at: args['AT'] });
    print(s, body, () => `${taskLine(body)} at ${body.scheduledAt ?? args['AT']}`);
    return 0;
  },

  'tasks skip': async (s, { args }) => changeStep(s, args['ID'], args['PATH'], 'skip'),
  'tasks unskip': async (s, { args }) => changeStep(s, args['ID'], args['PATH'], 'unskip'),
  'tasks pause-before': async (s, { args }) => changeStep(s, args['ID'], args['PATH'], 'pause-before'),

  'tasks log': async (s, { args, flags }) => {
    const id = await resolveTaskId(s, args['ID']);
    if (flags.follow && !s.json) return followStepLog(s, id, args['PATH']);
    const log = await s.client.text(`/tasks/${seg(id)}/steps/${seg(args['PATH'])}/log`);
    print(s, { taskId: id, path: args['PATH'], log }, () => log.replace(/\n$/, ''));
    return 0;
  },

  'tasks remove': async (s, { args }) => {
    const id = await resolveTaskId(s, args['ID']);
    await s.client.json('DELETE', `/tasks/${seg(id)}`);
    print(s, { taskId: id, removed: true }, () => `task ${id} removed`);
    return 0;
  },

  'hosts put': async (s, { args, flags }) => {
    const properties = await hostProperties(s, flags);
    const request = { type: flags.type ?? 'local', tags: flags.tag ?? [], ...(Object.keys(properties).length > 0 ? { properties } : {}) };
    return putNamed<Host>(s, 'host', args['NAME'], request);
  },

  'hosts show': async (s, { args }) => {
    const { body } = await s.client.json<Host>('GET', `/hosts/${seg(args['NAME'])}`);
    print(s, body, () => hostDetails(body));
    return 0;
  },

  'hosts trust-host-key': async (s, { args, flags }) => {
    const parameters = flags['host-key'] === undefined ? {} : { fingerprint: flags['host-key'] };
    return createAndStart(s, '/control-tasks', { target: args['NAME'], control: 'trust-host-key', parameters }, true);
  },

  control: async (s, { args, flags }) => {
    const spec = commandSpec('control');
    const parameters = Object.fromEntries((flags.param ?? []).map((pair) => keyValue(pair, spec, '--param')));
    return createAndStart(s, '/control-tasks', { target: args['HOST'], control: args['CONTROL'], parameters }, flags.wait === true);
  },

  'hosts list': async (s) => {
    const body = await s.client.list<Host>('/hosts');
    print(s, body, () =>
      body.length === 0 ? 'no hosts' : table(['NAME', 'TYPE', 'TAGS'], body.map((h) => [h.name, h.type, h.tags.join(',')])),
    );
    return 0;
  },

  'hosts delete': async (s, { args }) => {
    await s.client.json('DELETE', `/hosts/${seg(args['NAME'])}`);
    print(s, { name: args['NAME'], deleted: true }, () => `host ${args['NAME']} deleted`);
    return 0;
  },

  'environments put': async (s, { args, flags }) => {
    const name = args['NAME'];
    const spec = commandSpec('environments put');
    if (!flags.host?.length) throw new UsageError('environments put needs at least one --host', spec);
    const dictionary = Object.fromEntries((flags.set ?? []).map((pair) => keyValue(pair, spec)));
    const secrets = await secretsOf(s, name, flags, spec);
    const request = Object.keys(secrets).length > 0 ? { hosts: flags.host, dictionary, secrets } : { hosts: flags.host, dictionary };
    return putNamed<Environment>(s, 'environment', name, request);
  },

  'environments list': async (s) => {
    const body = await s.client.list<Environment>('/environments');
    print(s, body, () =>
      body.length === 0
        ? 'no environments'
        : table(
            ['NAME', 'HOSTS', 'DICTIONARY', 'SECRETS'],
            body.map((e) => [e.name, e.hosts.join(','), Object.keys(e.dictionary).join(','), Object.keys(e.secrets ?? {}).join(',')]),
          ),
    );
    return 0;
  },

  'environments deployed': async (s, { args }) => {
    const body = await s.client.list<DeployedApplication>(`/environments/${seg(args['ENV'])}/deployed`);
    print(s, body, () =>
      body.length === 0
        ? `nothing is deployed to ${args['ENV']}`
        : table(
            ['APPLICATION', 'VERSION', 'DEPLOYEDS', 'UPDATED'],
            body.map((a) => [
              a.application,
              a.version,
              a.deployeds.map((d) => `${d.deployable}@${d.host}`).join(','),
              a.updatedAt ?? '-',
            ]),
          ),
    );
    return 0;
  },

  'environments delete': async (s, { args }) => {
    await s.client.json('DELETE', `/environments/${seg(args['NAME'])}`);
    print(s, { name: args['NAME'], deleted: true }, () => `environment ${args['NAME']} deleted`);
    return 0;
  },

  'applications list': async (s) => {
    const body = await s.client.list<{ name: string; versions: string[] }>('/applications');
    print(s, body, () =>
      body.length === 0 ? 'no applications' : table(['APPLICATION', 'VERSIONS'], body.map((a) => [a.name, a.versions.join(', ')])),
    );
    return 0;
  },

  'archive list': async (s, { flags }) => {
    const query = new URLSearchParams();
    if (flags.application) query.set('application', flags.application);
    if (flags.environment) query.set('environment', flags.environment);
    const body = await s.client.list<TaskView>(`/archive/tasks${query.size > 0 ? `?${query}` : ''}`);
    print(s, body, () =>
      body.length === 0
        ? 'no archived tasks'
        : table(
            ['ID', 'STATE', 'COMPLETED', 'DESCRIPTION'],
            body.map((t) => [t.id, t.state, t.completedAt ?? '-', t.description]),
          ),
    );
    return 0;
  },

  'workers list': async (s) => {
    const body = await s.client.list<WorkerSummary>('/workers');
    const cell = (v: unknown): string => (Array.isArray(v) ? String(v.length) : v === undefined || v === null ? '-' : String(v));
    print(s, body, () =>
      body.length === 0
        ? 'no workers'
        : table(
            ['ID', 'NAME', 'ADDRESS', 'STATE', 'DEPLOYMENTS', 'CONTROLS', 'CAPACITY', 'LAST SEEN'],
            body.map((w) =>
              [w.id, w.name, w.address, w.drained === true ? `${String(w.state)}(drained)` : w.state, w.deploymentTasks, w.controlTasks, w.capacity, w.lastSeen].map(cell),
            ),
          ),
    );
    return 0;
  },

  'workers drain': async (s, { args }) => {
    const id = await resolveWorkerId(s, args['ID']);
    const { body } = await s.client.json<WorkerSummary | undefined>('POST', `/workers/${seg(id)}/drain`);
    print(s, body ?? { id }, () => `worker ${id} ${body?.state ?? 'asked to drain'}`);
    return 0;
  },

  'workers remove': async (s, { args }) => {
    const id = await resolveWorkerId(s, args['ID']);
    await s.client.json('DELETE', `/workers/${seg(id)}`);
    print(s, { id, removed: true }, () => `worker ${id} removed`);
    return 0;
  },

  'workers restore-ghost-tasks': async (s) => {
    const { body } = await s.client.json<unknown>('POST', '/workers/restore-ghost-tasks');
    print(s, body ?? {}, () => 'asked every worker to re-register its ghost tasks');
    return 0;
  },

  ...AUTH_HANDLERS,
};

/** Creates a deployment, undeployment or control task and starts it in the same request, and follows it with `--wait`. */
async function createAndStart(s: Session, path: string, request: object, wait: boolean): Promise<number> {
  const { body: created } = await s.client.json<CreatedTask>('POST', path, { ...request, start: true });
  const id = created.taskId;
  if (!s.json) s.out(created.task ? `task ${id} created and started: ${created.task.description}` : `task ${id} created and started`);
  const started = created.task ?? (await s.client.json<TaskView>('GET', `/tasks/${seg(id)}`)).body;
  if (!wait) return printTask(s, started);
  if (!s.json) s.out(taskLine(started));
  return follow(s, started);
}

async function follow(s: Session, task: TaskView): Promise<number> {
  const settled = await followTask(s, task);
  if (s.json) s.out(JSON.stringify(settled, null, 2));
  return reportOutcome(s, settled);
}

async function operate(s: Session, given: string, operation: 'start' | 'stop' | 'abort' | 'cancel' | 'archive'): Promise<TaskView> {
  const id = await resolveTaskId(s, given);
  return (await s.client.json<TaskView>('POST', `/tasks/${seg(id)}/${operation}`)).body;
}

function printTask(s: Session, task: TaskView): number {
  print(s, task, () => taskLine(task));
  return 0;
}

async function changeStep(s: Session, given: string, path: string, change: 'skip' | 'unskip' | 'pause-before'): Promise<number> {
  const id = await resolveTaskId(s, given);
  const { body } = await s.client.json<TaskView>('POST', `/tasks/${seg(id)}/steps/${seg(path)}/${change}`);
  const step = body.steps.find((st) => st.path === path);
  print(s, body, () =>
    step ? `task ${id}: step ${path} ${step.state}${step.pauseBefore ? ' [pause before]' : ''}` : `task ${id}: ${change} ${path} done`,
  );
  return 0;
}

/** PUTs a host or an environment and says whether it was created or replaced. */
async function putNamed<T>(s: Session, kind: 'host' | 'environment', name: string, request: object): Promise<number> {
  const { status, body } = await s.client.json<T>('PUT', `/${kind}s/${seg(name)}`, request);
  print(s, body, () => `${kind} ${name} ${status === 201 ? 'created' : 'updated'}`);
  return 0;
}

function keyValue(pair: string, spec: CommandSpec, flag = '--set'): [string, string] {
  const at = pair.indexOf('=');
  if (at <= 0) throw new UsageError(`${flag} expects KEY=VALUE, got ${JSON.stringify(pair)}`, spec);
  return [pair.slice(0, at), pair.slice(at + 1)];
}

function commandSpec(name: CommandName): CommandSpec {
  return COMMANDS.find((c) => c.words.join(' ') === name) as CommandSpec;
}

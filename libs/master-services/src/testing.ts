/**
 * Test support for code built on the master services: the real services over an in-memory
 * SQLite database, the in-process queue and a clock that moves only when told to. Imported as
 * `@shipdeck/master-services/testing`, never by production code.
 *
 * @packageDocumentation
 */
import { Writable } from 'node:stream';
import { Environment, Host } from '@shipdeck/domain';
import { Logger, createLogger } from '@shipdeck/logging';
import { Stores, openStores } from '@shipdeck/persistence';
import { createRegistry } from '@shipdeck/plugins';
import { InProcessTaskQueue, TaskMessage } from '@shipdeck/queue';
import { WorkerCommand, WorkerRunState } from '@shipdeck/command-channel';
import { ClusterWorkers, ConnectedWorker } from './lib/cluster-workers';
import { InProcessWorker, InProcessWorkers } from './lib/in-process-workers';
import { MasterServices, createMasterServices } from './lib/master-services';
import { TaskAnnouncer } from './lib/task-announcer';
import { WorkerPool } from './lib/workers';

/** A clock that moves only when told to. */
export class ManualClock {
  constructor(public current = new Date('2030-01-01T00:00:00.000Z')) {}
  readonly now = (): Date => this.current;
  /** Moves the clock on by `ms`. */
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

/** The in-process worker's port, recording the stops and aborts the master delivers. */
export class RecordingWorker implements InProcessWorker {
  readonly workerId = 'in-process-worker';
  readonly stops: string[] = [];
  readonly aborts: string[] = [];
  stop(taskId: string): boolean {
    this.stops.push(taskId);
    return true;
  }
  abort(taskId: string): boolean {
    this.aborts.push(taskId);
    return true;
  }
}

/** The in-process queue, also keeping every message published, in order. */
export class RecordingQueue extends InProcessTaskQueue {
  readonly published: TaskMessage[] = [];
  override async publish(message: TaskMessage): Promise<void> {
    this.published.push(message);
    await super.publish(message);
  }
}

/** The grace period of the cluster variant. */
export const GRACE_PERIOD_MS = 10_000;

/** Real master services over an in-memory SQLite database and the in-process queue. */
export interface InMemoryMaster {
  services: MasterServices;
  stores: Stores;
  queue: RecordingQueue;
  clock: ManualClock;
  /** The in-process worker (embedded variant). */
  worker: RecordingWorker;
  /** The external workers (cluster variant); undefined in the embedded one. */
  cluster: ClusterWorkers | undefined;
  logger: Logger;
  /** Stores a host `local` of type local and an environment `dev` on it. */
  seedCatalog(): Promise<{ host: Host; environment: Environment }>;
  close(): Promise<void>;
}

/** A logger that writes nowhere. */
export function silentLogger(): Logger {
  return createLogger({ json: true, name: 'test', level: 'error', stream: new Writable({ write: (_c, _e, done) => done() }) });
}

/**
 * Starts the master services as `apps/master` wires them, minus HTTP and processes: the embedded
 * default (an in-process worker) or a cluster (external workers known from their sessions).
 */
export async function startInMemoryMaster(options: { mode?: 'embedded' | 'cluster'; logger?: Logger } = {}): Promise<InMemoryMaster> {
  const logger = options.logger ?? silentLogger();
  const clock = new ManualClock();
  const stores = await openStores({ url: 'file::memory:', logger, migrate: true, now: clock.now });
  const queue = new RecordingQueue();
  const registry = createRegistry();
  const announcer = new TaskAnnouncer(queue, 'master-test', 'hash', logger);
  const worker = new RecordingWorker();
  const cluster =
    options.mode === 'cluster'
      ? new ClusterWorkers({ workers: stores.workers, configHash: 'hash', gracePeriodMs: GRACE_PERIOD_MS, logger, now: clock.now })
      : undefined;
  const workers: WorkerPool = cluster ?? new InProcessWorkers({ worker, configHash: 'hash', capacity: 2 });
  const info = { version: '0.0.0-test', role: 'master' as const, id: 'master-test', configHash: 'hash', inProcessWorker: !cluster };
  const services = createMasterServices({ stores, registry, announcer, workers, logger, info, now: clock.now });
  return {
    services,
    stores,
    queue,
    clock,
    worker,
    cluster,
    logger,
    async seedCatalog() {
      const host: Host = { name: 'local', type: 'local', tags: [], properties: {} };
      const environment: Environment = { name: 'dev', hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } };
      await services.catalog.putHost(host);
      await services.catalog.putEnvironment(environment);
      return { host, environment };
    },
    async close() {
      await queue.close();
      await stores.close();
    },
  };
}

/** A manifest of `petclinic` with one command deployable, as a client would send it. */
export function petclinicManifest(version = '1.0.0'): Record<string, unknown> {
  return {
    application: 'petclinic',
    version,
    deployables: [
      { name: 'app', type: 'cmd.Command', create: `install ${version} {{APP_HOME}}`, destroy: 'uninstall {{APP_HOME}}' },
      { name: 'app-config', type: 'file.File', targetPath: '{{APP_HOME}}/app.conf', content: 'pool=5' },
    ],
  };
}

/** A live command-channel session of an external worker, answering every command ok and recording it. */
export interface FakeSession extends ConnectedWorker {
  runState: WorkerRunState;
  lastSeen: Date;
  /** The kinds of the commands the master sent, in order. */
  readonly sent: WorkerCommand['kind'][];
}

/** A session of worker `id` (name `name-ID`, capacity 3), last seen now by `clock`. */
export function fakeSession(id: string, clock: ManualClock, configHash = 'hash'): FakeSession {
  const sent: WorkerCommand['kind'][] = [];
  return {
    registration: {
      protocolVersion: 1,
      workerId: id,
      name: `name-${id}`,
      address: `${id}:9`,
      configHash,
      capacity: 3,
      state: 'RUNNING',
      tasks: [],
    },
    runState: 'RUNNING',
    lastSeen: clock.current,
    sent,
    async send(command) {
      sent.push(command.kind);
      return { ok: true, message: `${id} does ${command.kind}` };
    },
  };
}

import { CommandReply, WorkerCommand, WorkerRegistration, WorkerRunState } from '@shipdeck/command-channel';
import { ConflictError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { WorkerRecord, WorkerStore } from '@shipdeck/persistence';
import { TaskRecord } from '@shipdeck/tasks';
import { GhostTaskRestore, WorkerPool, WorkerState, WorkerView, countTasks, workerNotConnected, workerNotFound } from './workers';

/** What the master needs of one live command-channel session (the channel's WorkerSession fits). */
export interface ConnectedWorker {
  readonly registration: WorkerRegistration;
  readonly runState: WorkerRunState;
  readonly lastSeen: Date;
  send(command: WorkerCommand): Promise<CommandReply>;
}

export interface ClusterWorkersOptions {
  workers: WorkerStore;
  /** This master's configuration hash: workers with another one are INCOMPATIBLE here. */
  configHash: string;
  /** A worker silent this long is DISCONNECTED and its tasks show UNKNOWN. */
  gracePeriodMs: number;
  /**
   * A DISCONNECTED worker (drained or not) last seen longer ago than this is forgotten when the workers
   * are listed (`worker.pruneAfter`). Default: never.
   */
  pruneAfterMs?: number;
  logger: Logger;
  now?: () => Date;
}

/** How often a live worker's `last seen` is written to the database (it is kept in memory always). */
const LAST_SEEN_WRITE_MS = 10_000;

/**
 * The external workers of a cluster as this master sees them: live command-channel sessions,
 * plus the workers the database remembers (so a gone worker stays listed as DISCONNECTED until it
 * is forgotten, also across master restarts).
 */
export class ClusterWorkers implements WorkerPool {
  private readonly sessions = new Map<string, ConnectedWorker>();
  /** When this master last heard of each worker, or when it started for workers not heard of yet. */
  private readonly lastHeard = new Map<string, number>();
  private readonly lastWritten = new Map<string, number>();
  /** Workers whose session closed while they were draining: they exited as told (shown `drained`). */
  private readonly drained = new Set<string>();
  private readonly startedAt: number;
  private readonly now: () => Date;

  constructor(private readonly options: ClusterWorkersOptions) {
    this.now = options.now ?? (() => new Date());
    this.startedAt = this.now().getTime();
  }

  /** A worker registered (or re-registered) over the command channel. */
  async connected(session: ConnectedWorker): Promise<void> {
    const { registration } = session;
    this.sessions.set(registration.workerId, session);
    this.drained.delete(registration.workerId);
    this.lastHeard.set(registration.workerId, session.lastSeen.getTime());
    const compatible = registration.configHash === this.options.configHash;
    this.options.logger.info(`worker ${registration.name} connected: ${compatible ? registration.state : 'INCOMPATIBLE'}`, {
      workerId: registration.workerId,
      address: registration.address,
      configHash: registration.configHash,
      tasks: registration.tasks.length,
    });
    await this.remember(session, true);
  }

  /** A heartbeat or state change arrived. */
  async seen(session: ConnectedWorker): Promise<void> {
    this.lastHeard.set(session.registration.workerId, session.lastSeen.getTime());
    await this.remember(session, false);
  }

  /** The session closed (the worker left, crashed, froze, or the network failed). */
  disconnected(session: ConnectedWorker, reason: string): void {
    const id = session.registration.workerId;
    if (this.sessions.get(id) !== session) return;
    this.sessions.delete(id);
    this.lastHeard.set(id, Math.max(this.lastHeard.get(id) ?? 0, session.lastSeen.getTime()));
    if (session.runState === 'DRAINING') {
      this.drained.add(id);
      this.options.logger.info(`worker ${session.registration.name} drained and left: ${reason}`, { workerId: id });
      return;
    }
    this.options.logger.warn(`worker ${session.registration.name} disconnected: ${reason}`, { workerId: id });
  }

  async list(tasks: readonly TaskRecord[]): Promise<WorkerView[]> {
    // A live session's last-seen time moves with every frame, heartbeats included: keep the
    // database's copy (other masters, restarts) roughly current.
    for (const session of this.sessions.values()) await this.remember(session, false);
    const records = await this.prune(await this.options.workers.list(), tasks);
    const views = new Map<string, WorkerView>();
    for (const record of records) {
      views.set(record.id, {
        id: record.id,
        name: record.name,
        address: record.address,
        state: this.stateOf(record.id),
        ...countTasks(tasks, record.id),
        configHash: record.configHash,
        capacity: record.capacity,
        lastSeen: this.lastSeenOf(record.id) ?? record.lastSeen,
        ...(this.drainedAndGone(record.id) ? { drained: true as const } : {}),
      });
    }
    for (const [id, session] of this.sessions) {
      if (views.has(id)) continue;
      const r = session.registration;
      views.set(id, {
        id,
        name: r.name,
        address: r.address,
        state: this.stateOf(id),
        ...countTasks(tasks, id),
        configHash: r.configHash,
        capacity: r.capacity,
        lastSeen: session.lastSeen.toISOString(),
      });
    }
    return [...views.values()];
  }

  async drain(id: string): Promise<{ message: string }> {
    const session = await this.liveSession(id);
    const reply = await session.send({ kind: 'drain' });
    if (!reply.ok) throw new ConflictError(`worker ${id} refused to drain: ${reply.message}`);
    return { message: reply.message };
  }

  async forget(id: string): Promise<void> {
    const state = this.stateOf(id);
    if (state !== 'DISCONNECTED') throw new ConflictError(`worker ${id} is ${state}; only a DISCONNECTED worker can be forgotten`);
    if (!(await this.options.workers.delete(id))) throw workerNotFound(id);
    this.lastHeard.delete(id);
    this.drained.delete(id);
    this.options.logger.info('worker forgotten', { workerId: id });
  }

  /**
   * Forgets the gone (DISCONNECTED, drained or not) workers last seen more than `pruneAfterMs`
   * ago that own no current task (their tasks must stay visible as UNKNOWN); answers the others.
   */
  private async prune(records: WorkerRecord[], tasks: readonly TaskRecord[]): Promise<WorkerRecord[]> {
    const { pruneAfterMs } = this.options;
    if (pruneAfterMs === undefined) return records;
    const now = this.now().getTime();
    const kept: WorkerRecord[] = [];
    for (const record of records) {
      const state = this.stateOf(record.id);
      const seen = Math.max(Date.parse(record.lastSeen), this.lastHeard.get(record.id) ?? 0);
      const owns = tasks.some((t) => t.workerId === record.id);
      if (state === 'DISCONNECTED' && now - seen > pruneAfterMs && !owns) {
        const how = this.drained.has(record.id) ? 'drained and gone' : 'DISCONNECTED';
        await this.options.workers.delete(record.id);
        this.lastHeard.delete(record.id);
        this.drained.delete(record.id);
        this.options.logger.info(`worker ${record.name} pruned: ${how} and not seen for over ${pruneAfterMs / 1000}s (worker.pruneAfter)`, {
          workerId: record.id,
        });
        continue;
      }
      kept.push(record);
    }
    return kept;
  }

  async restoreGhostTasks(): Promise<GhostTaskRestore> {
    const results = await Promise.all(
      [...this.sessions.entries()]
        .filter(([id]) => this.stateOf(id) !== 'DISCONNECTED')
        .map(async ([id, session]) => {
          try {
            const reply = await session.send({ kind: 'restoreGhostTasks' });
            const tasks = Array.isArray(reply.data) ? (reply.data as unknown[]).filter((t): t is string => typeof t === 'string') : [];
            return { id, ok: reply.ok, message: reply.message, tasks };
          } catch (error) {
            return { id, ok: false, message: error instanceof Error ? error.message : String(error), tasks: [] };
          }
        }),
    );
    return { tasks: results.flatMap((r) => r.tasks), workers: results };
  }

  async stop(task: TaskRecord): Promise<void> {
    await this.command(task, { kind: 'stop', taskId: task.id });
  }

  async abort(task: TaskRecord): Promise<void> {
    await this.command(task, { kind: 'abort', taskId: task.id });
  }

  /**
   * Whether a task owner counts as gone, so that its tasks show UNKNOWN: silent for longer than
   * the grace period. A connection that just dropped (a master restart, a network blip) gets the
   * grace period to come back before anything is shown UNKNOWN.
   */
  isDisconnected(workerId: string): boolean {
    const session = this.sessions.get(workerId);
    const heard = Math.max(session?.lastSeen.getTime() ?? this.lastHeard.get(workerId) ?? 0, this.startedAt);
    return this.now().getTime() - heard > this.options.gracePeriodMs;
  }

  private stateOf(id: string): WorkerState {
    const session = this.sessions.get(id);
    if (!session || this.now().getTime() - session.lastSeen.getTime() > this.options.gracePeriodMs) return 'DISCONNECTED';
    if (session.runState === 'DRAINING') return 'DRAINING';
    if (session.registration.configHash !== this.options.configHash) return 'INCOMPATIBLE';
    return 'CONNECTED';
  }

  /** Whether the worker left while draining (and has not come back). */
  private drainedAndGone(id: string): boolean {
    return this.drained.has(id) && !this.sessions.has(id);
  }

  /** The latest of the live session's last frame and what this master last heard of the worker. */
  private lastSeenOf(id: string): string | undefined {
    const heard = Math.max(this.sessions.get(id)?.lastSeen.getTime() ?? 0, this.lastHeard.get(id) ?? 0);
    return heard === 0 ? undefined : new Date(heard).toISOString();
  }

  private async liveSession(id: string): Promise<ConnectedWorker> {
    const session = this.sessions.get(id);
    if (session && this.stateOf(id) !== 'DISCONNECTED') return session;
    if (session || (await this.options.workers.get(id))) throw workerNotConnected(id, 'DISCONNECTED');
    throw workerNotFound(id);
  }

  /**
   * Pushes a stop or abort to the owner. The request is already in the database, which every
   * worker also watches, so a worker this master cannot reach right now still gets it.
   */
  private async command(task: TaskRecord, command: WorkerCommand): Promise<void> {
    const session = task.workerId ? this.sessions.get(task.workerId) : undefined;
    if (!session) return;
    try {
      const reply = await session.send(command);
      this.options.logger.info(`worker answered ${command.kind}: ${reply.message}`, { taskId: task.id, ok: reply.ok });
    } catch (error) {
      this.options.logger.warn(`could not deliver ${command.kind} over the command channel; the worker will see it in the database`, {
        taskId: task.id,
        error: String(error),
      });
    }
  }

  private async remember(session: ConnectedWorker, registered: boolean): Promise<void> {
    const r = session.registration;
    const now = this.now().getTime();
    if (!registered && now - (this.lastWritten.get(r.workerId) ?? 0) < LAST_SEEN_WRITE_MS) return;
    this.lastWritten.set(r.workerId, now);
    try {
      const existing = registered ? await this.options.workers.get(r.workerId) : null;
      await this.options.workers.put({
        id: r.workerId,
        name: r.name,
        address: r.address,
        configHash: r.configHash,
        capacity: r.capacity,
        registeredAt: existing?.registeredAt ?? new Date(now).toISOString(),
        lastSeen: session.lastSeen.toISOString(),
      });
    } catch (error) {
      this.options.logger.warn('could not record worker in the database', { workerId: r.workerId, error: String(error) });
    }
  }
}

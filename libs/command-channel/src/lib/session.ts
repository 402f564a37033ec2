import { randomUUID } from 'node:crypto';
import { CommandChannelError } from './errors';
import { CommandReply, MasterToWorker, WorkerCommand, WorkerRegistration, WorkerRunState, activeTaskIds } from './protocol';
import type { CompiledServerOptions } from './server-options';
import type { WorkerSession } from './worker-session';

/** What a {@link Session} needs of its connection. */
export interface SessionConnection {
  readonly closed: boolean;
  send(message: MasterToWorker): boolean;
  close(reason: string): void;
}

interface PendingCommand {
  resolve(reply: CommandReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  kind: WorkerCommand['kind'];
}

/** The master's side of one registered worker: its latest registration and heartbeat, and the commands awaiting a reply. */
export class Session implements WorkerSession {
  runState: WorkerRunState;
  runningTasks: readonly string[];
  lastSeen = new Date();
  readonly connectedAt = new Date();
  private readonly pending = new Map<string, PendingCommand>();

  constructor(
    private readonly connection: SessionConnection,
    public registration: WorkerRegistration,
    readonly remoteAddress: string,
    readonly peerCertificateSubject: string | undefined,
    private readonly options: CompiledServerOptions,
  ) {
    this.runState = registration.state;
    this.runningTasks = activeTaskIds(registration);
  }

  get workerId(): string {
    return this.registration.workerId;
  }

  get open(): boolean {
    return !this.connection.closed;
  }

  send(command: WorkerCommand, options: { timeoutMs?: number } = {}): Promise<CommandReply> {
    const what = `${command.kind} command for worker ${this.workerId}`;
    if (!this.open) {
      return Promise.reject(new CommandChannelError(`cannot send the ${what}: its channel is closed`, 'closed', this.workerId));
    }
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    const requestId = randomUUID();
    return new Promise<CommandReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new CommandChannelError(`the worker did not answer the ${what} within ${timeoutMs} ms`, 'timeout', this.workerId));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer, kind: command.kind });
      if (!this.connection.send({ type: 'command', requestId, command })) {
        clearTimeout(timer);
        this.pending.delete(requestId);
        reject(new CommandChannelError(`cannot send the ${what}: its channel is closed`, 'closed', this.workerId));
      }
    });
  }

  close(reason = 'closed by the master'): void {
    this.connection.close(reason);
  }

  reregister(registration: WorkerRegistration): void {
    this.registration = registration;
    this.runState = registration.state;
    this.runningTasks = activeTaskIds(registration);
  }

  /** Applies a heartbeat; true when it changed the state or the running tasks. */
  heartbeat(state: WorkerRunState, runningTasks: string[]): boolean {
    const changed =
      state !== this.runState ||
      runningTasks.length !== this.runningTasks.length ||
      runningTasks.some((id, i) => id !== this.runningTasks[i]);
    this.runState = state;
    this.runningTasks = runningTasks;
    return changed;
  }

  replied(requestId: string, reply: CommandReply): void {
    const pending = this.pending.get(requestId);
    if (!pending) {
      // A reply that came after its time-out: its requester has its answer already.
      this.options.logger.debug(`ignoring a late reply from worker ${this.workerId}`, { requestId });
      return;
    }
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    pending.resolve(reply);
  }

  failPending(reason: string): void {
    for (const [requestId, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(
        new CommandChannelError(
          `the channel of worker ${this.workerId} closed before it answered the ${pending.kind} command: ${reason}`,
          'closed',
          this.workerId,
        ),
      );
      this.pending.delete(requestId);
    }
  }
}

import { CommandReply, WorkerCommand, WorkerRegistration, WorkerRunState } from './protocol';

/** A registered worker, as one master sees it over its command channel. */
export interface WorkerSession {
  readonly workerId: string;
  /** What the worker said at its latest `register` (it re-registers e.g. when it starts draining). */
  readonly registration: WorkerRegistration;
  /** RUNNING or DRAINING, from the latest `register` or heartbeat. */
  readonly runState: WorkerRunState;
  /** Ids of the tasks the worker executes, from the latest `register` or heartbeat. */
  readonly runningTasks: readonly string[];
  /** When the worker last sent anything. */
  readonly lastSeen: Date;
  readonly connectedAt: Date;
  /** `ip:port` of the worker's end of the connection. */
  readonly remoteAddress: string;
  /** Subject of the worker's TLS certificate (`CN=worker-1, O=…`); absent on plain TCP. */
  readonly peerCertificateSubject?: string;
  /** False once the session ended (closed, replaced, timed out). */
  readonly open: boolean;
  /**
   * Sends a command and waits for the worker's reply. Rejects with a {@link CommandChannelError}
   * when no reply comes within the command time-out or the channel closes first.
   */
  send(command: WorkerCommand, options?: { timeoutMs?: number }): Promise<CommandReply>;
  /** Ends the session (onClose runs with `reason`); the worker will reconnect by itself. */
  close(reason?: string): void;
}

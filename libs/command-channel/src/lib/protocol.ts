import { TaskState, TaskType, isActive } from '@shipdeck/tasks';

/**
 * The master ↔ worker command channel (spec §4): a worker opens one persistent connection to
 * every master's `server.workerPort` and registers; masters push commands for the tasks it owns.
 * Frames are newline-delimited JSON objects over TCP, or TLS with mutual authentication.
 * Every wire name of the channel is defined in this file.
 */
export const CHANNEL_PROTOCOL_VERSION = 2;

/**
 * The longest value a peer may send in each field; a longer one closes the connection (a
 * registration is kept in memory and written to logs and the database).
 */
export const CHANNEL_LIMITS = {
  /** Worker ids, master ids, task ids, request ids. */
  id: 128,
  /** Display names. */
  name: 256,
  /** `host:port` addresses. */
  address: 512,
  configHash: 128,
  /** Nonces and MACs of the authentication. */
  proof: 128,
  /** Goodbye reasons and reply messages. */
  text: 4096,
  /** Tasks listed in one registration or heartbeat. */
  tasks: 5000,
} as const;

/** What a worker says about itself when it (re)connects. */
export interface WorkerRegistration {
  /** {@link CHANNEL_PROTOCOL_VERSION} of the worker; a master logs a different one. */
  protocolVersion: number;
  workerId: string;
  /** Display name (`-name`), not unique. */
  name: string;
  /** `hostname:port` of the worker's own HTTP port. */
  address: string;
  configHash: string;
  /** `task.maxActiveTasks` */
  capacity: number;
  /** RUNNING, or DRAINING once it takes no new tasks. */
  state: WorkerRunState;
  /** The tasks the worker holds: executing, and finished ones it still owns. */
  tasks: RegisteredTask[];
}

export const WORKER_RUN_STATES = ['RUNNING', 'DRAINING'] as const;
export type WorkerRunState = (typeof WORKER_RUN_STATES)[number];

export interface RegisteredTask {
  id: string;
  type: TaskType;
  state: TaskState;
}

/** Commands a master sends to a worker. */
export type WorkerCommand =
  | { kind: 'stop'; taskId: string }
  | { kind: 'abort'; taskId: string }
  | { kind: 'drain' }
  | { kind: 'restoreGhostTasks' };

/** Every command kind this version knows; a worker answers others with `ok: false` (a newer master). */
export const WORKER_COMMAND_KINDS = ['stop', 'abort', 'drain', 'restoreGhostTasks'] as const satisfies readonly WorkerCommand['kind'][];

/** A worker's answer to one command. */
export interface CommandReply {
  ok: boolean;
  /** For people: what happened, or why not. */
  message: string;
  /** Command-specific result, e.g. the restored ghost task ids. */
  data?: unknown;
}

/** The worker's answer to the master's challenge (see channel-auth.ts). */
export interface RegisterProof {
  /** The worker's own nonce, which the master's welcome proof covers. */
  nonce: string;
  /** HMAC over the master's nonce, the worker's nonce and the worker id. */
  mac: string;
}

export type WorkerToMaster =
  | { type: 'register'; registration: WorkerRegistration; proof?: RegisterProof }
  | { type: 'heartbeat'; state: WorkerRunState; runningTasks: string[] }
  | { type: 'reply'; requestId: string; reply: CommandReply }
  | Goodbye;

/**
 * The master's first message on every connection: the nonce a worker's proof must cover, and
 * whether the master requires that proof (it has a cluster secret).
 */
export interface Hello {
  type: 'hello';
  protocolVersion: number;
  nonce: string;
  hmac: boolean;
}

export type MasterToWorker =
  | Hello
  /** `proof`: the master's HMAC (see channel-auth.ts), present when the worker proved itself. */
  | { type: 'welcome'; masterId: string; configHash: string; proof?: string }
  | { type: 'command'; requestId: string; command: WorkerCommand }
  | Goodbye;

/**
 * Sent, by either side, just before it closes the channel on purpose (shutdown, replaced session,
 * protocol violation), so that the other side logs why. Optional: a peer that does not know it
 * ignores it, as it ignores every unknown message type.
 */
export interface Goodbye {
  type: 'goodbye';
  reason: string;
}

/**
 * Framing: one JSON object per line (UTF-8, `\n`-terminated), each with a string `type`. A frame
 * longer than this (without its newline) closes the connection.
 */
export const MAX_FRAME_BYTES = 1024 * 1024;

/** Ids of the tasks a registration lists as executing (active). */
export function activeTaskIds(registration: WorkerRegistration): string[] {
  return registration.tasks.filter((task) => isActive(task.state)).map((task) => task.id);
}

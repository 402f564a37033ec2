import { TASK_STATES, TASK_TYPES } from '@shipdeck/tasks';
import { Frame } from './framing';
import {
  CommandReply,
  MasterToWorker,
  RegisteredTask,
  WORKER_COMMAND_KINDS,
  WORKER_RUN_STATES,
  WorkerCommand,
  WorkerRegistration,
  WorkerRunState,
  WorkerToMaster,
} from './protocol';

/**
 * What a frame means to its reader: a known message, checked field by field; a type this version
 * does not know (ignored: the peer may be newer); or a known type with bad fields (a broken peer:
 * the connection closes).
 */
export type Decoded<M> = { kind: 'message'; message: M } | { kind: 'unknown'; type: string } | { kind: 'invalid'; reason: string };

class Invalid extends Error {}

/** Reads a frame a worker sent to a master. */
export function decodeWorkerMessage(frame: Frame): Decoded<WorkerToMaster> {
  return decode(frame, () => {
    switch (frame.type) {
      case 'register':
        return { type: 'register', registration: registration(frame['registration']) };
      case 'heartbeat':
        return {
          type: 'heartbeat',
          state: runState(frame['state'], 'state'),
          runningTasks: stringArray(frame['runningTasks'], 'runningTasks'),
        };
      case 'reply':
        return { type: 'reply', requestId: string(frame['requestId'], 'requestId'), reply: reply(frame['reply']) };
      case 'goodbye':
        return { type: 'goodbye', reason: string(frame['reason'], 'reason') };
      default:
        return undefined;
    }
  });
}

/** Reads a frame a master sent to a worker. Commands of an unknown kind are left to the worker to refuse. */
export function decodeMasterMessage(frame: Frame): Decoded<MasterToWorker> {
  return decode(frame, () => {
    switch (frame.type) {
      case 'welcome':
        return {
          type: 'welcome',
          masterId: string(frame['masterId'], 'masterId'),
          configHash: string(frame['configHash'], 'configHash'),
        };
      case 'command':
        return { type: 'command', requestId: string(frame['requestId'], 'requestId'), command: command(frame['command']) };
      case 'goodbye':
        return { type: 'goodbye', reason: string(frame['reason'], 'reason') };
      default:
        return undefined;
    }
  });
}

/** Whether this version knows how to carry out `command`. */
export function isKnownCommand(command: WorkerCommand): boolean {
  return (WORKER_COMMAND_KINDS as readonly string[]).includes(command.kind);
}

function decode<M>(frame: Frame, read: () => M | undefined): Decoded<M> {
  try {
    const message = read();
    return message === undefined ? { kind: 'unknown', type: frame.type } : { kind: 'message', message };
  } catch (error) {
    if (!(error instanceof Invalid)) throw error;
    return { kind: 'invalid', reason: `invalid ${frame.type} message: ${error.message}` };
  }
}

function registration(value: unknown): WorkerRegistration {
  const r = object(value, 'registration');
  return {
    // Kept as sent: a newer worker's version is the master's to judge, not the decoder's.
    protocolVersion: integer(r['protocolVersion'], 'registration.protocolVersion') as WorkerRegistration['protocolVersion'],
    workerId: string(r['workerId'], 'registration.workerId'),
    name: string(r['name'], 'registration.name', true),
    address: string(r['address'], 'registration.address', true),
    configHash: string(r['configHash'], 'registration.configHash', true),
    capacity: integer(r['capacity'], 'registration.capacity'),
    state: runState(r['state'], 'registration.state'),
    tasks: array(r['tasks'], 'registration.tasks').map((t, i) => registeredTask(t, `registration.tasks[${i}]`)),
  };
}

function registeredTask(value: unknown, field: string): RegisteredTask {
  const t = object(value, field);
  return {
    id: string(t['id'], `${field}.id`),
    type: oneOf(t['type'], TASK_TYPES, `${field}.type`),
    state: oneOf(t['state'], TASK_STATES, `${field}.state`),
  };
}

function command(value: unknown): WorkerCommand {
  const c = object(value, 'command');
  const kind = string(c['kind'], 'command.kind');
  if (kind === 'stop' || kind === 'abort') return { kind, taskId: string(c['taskId'], 'command.taskId') };
  // Other fields of other kinds travel as sent; the worker refuses kinds it does not know.
  return { ...c, kind } as WorkerCommand;
}

function reply(value: unknown): CommandReply {
  const r = object(value, 'reply');
  if (typeof r['ok'] !== 'boolean') throw new Invalid('reply.ok must be true or false');
  const result: CommandReply = { ok: r['ok'], message: string(r['message'], 'reply.message', true) };
  if (r['data'] !== undefined) result.data = r['data'];
  return result;
}

function runState(value: unknown, field: string): WorkerRunState {
  return oneOf(value, WORKER_RUN_STATES, field);
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Invalid(`${field} must be an object`);
  return value as Record<string, unknown>;
}

function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new Invalid(`${field} must be an array`);
  return value;
}

function string(value: unknown, field: string, allowEmpty = false): string {
  if (typeof value !== 'string' || (!allowEmpty && value === '')) throw new Invalid(`${field} must be a non-empty string`);
  return value;
}

function stringArray(value: unknown, field: string): string[] {
  return array(value, field).map((item, i) => string(item, `${field}[${i}]`));
}

function integer(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new Invalid(`${field} must be a non-negative integer`);
  return value;
}

function oneOf<const V extends string>(value: unknown, values: readonly V[], field: string): V {
  if (typeof value !== 'string' || !(values as readonly string[]).includes(value)) {
    throw new Invalid(`${field} must be one of ${values.join(', ')}`);
  }
  return value as V;
}

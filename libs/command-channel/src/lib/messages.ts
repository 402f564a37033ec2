import { InputClass, ValidationError, validateInput } from '@shipdeck/errors';
import { Frame } from './framing';
import {
  CommandBodyShape,
  CommandShape,
  GoodbyeShape,
  HeartbeatShape,
  HelloShape,
  RegisterShape,
  ReplyShape,
  WelcomeShape,
} from './message-shapes';
import { CommandReply, MasterToWorker, WORKER_COMMAND_KINDS, WorkerCommand, WorkerRegistration, WorkerToMaster } from './protocol';

/**
 * What a frame means to its reader: a known message, checked field by field; a type this version
 * does not know (ignored: the peer may be newer); or a known type with bad fields (a broken peer:
 * the connection closes).
 */
export type Decoded<M> = { kind: 'message'; message: M } | { kind: 'unknown'; type: string } | { kind: 'invalid'; reason: string };

/** Reads a frame a worker sent to a master. */
export function decodeWorkerMessage(frame: Frame): Decoded<WorkerToMaster> {
  return decode(frame, (read) => {
    switch (frame.type) {
      case 'register': {
        const { registration, proof } = read(RegisterShape);
        const message: WorkerToMaster = { type: 'register', registration: plain<WorkerRegistration>(registration) };
        if (proof) message.proof = { nonce: proof.nonce, mac: proof.mac };
        return message;
      }
      case 'heartbeat': {
        const { state, runningTasks } = read(HeartbeatShape);
        return { type: 'heartbeat', state, runningTasks: [...runningTasks] };
      }
      case 'reply': {
        const { requestId, reply } = read(ReplyShape);
        const result: CommandReply = { ok: reply.ok, message: reply.message };
        if (reply.data !== undefined) result.data = reply.data;
        return { type: 'reply', requestId, reply: result };
      }
      case 'goodbye':
        return { type: 'goodbye', reason: read(GoodbyeShape).reason };
      default:
        return undefined;
    }
  });
}

/** Reads a frame a master sent to a worker. Commands of an unknown kind are left to the worker to refuse. */
export function decodeMasterMessage(frame: Frame): Decoded<MasterToWorker> {
  return decode(frame, (read) => {
    switch (frame.type) {
      case 'hello': {
        const { protocolVersion, nonce, hmac } = read(HelloShape);
        return { type: 'hello', protocolVersion, nonce, hmac };
      }
      case 'welcome': {
        const { masterId, configHash, proof } = read(WelcomeShape);
        return proof === undefined ? { type: 'welcome', masterId, configHash } : { type: 'welcome', masterId, configHash, proof };
      }
      case 'command': {
        const { requestId, command } = read(CommandShape);
        return { type: 'command', requestId, command: commandOf(command, frame['command'] as Record<string, unknown>) };
      }
      case 'goodbye':
        return { type: 'goodbye', reason: read(GoodbyeShape).reason };
      default:
        return undefined;
    }
  });
}

/** Whether this version knows how to carry out `command`. */
export function isKnownCommand(command: WorkerCommand): boolean {
  return (WORKER_COMMAND_KINDS as readonly string[]).includes(command.kind);
}

/** Checks the frame against a shape; fields a newer peer adds are dropped, not refused. */
type Reader = <T extends object>(shape: InputClass<T>) => T;

function decode<M>(frame: Frame, read: (reader: Reader) => M | undefined): Decoded<M> {
  const what = `${frame.type} message`;
  try {
    const message = read((shape) => validateInput(shape, frame, { what, forbidUnknown: false }));
    return message === undefined ? { kind: 'unknown', type: frame.type } : { kind: 'message', message };
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { kind: 'invalid', reason: error.message };
  }
}

function commandOf(command: CommandBodyShape, sent: Record<string, unknown>): WorkerCommand {
  const { kind, taskId } = command;
  if ((kind === 'stop' || kind === 'abort') && taskId !== undefined) return { kind, taskId };
  // Other fields of other kinds travel as sent; the worker refuses kinds it does not know.
  return { ...sent, kind } as WorkerCommand;
}

/** A checked shape as the plain object the protocol types describe (no DTO prototype travels on). */
function plain<T>(shape: object): T {
  return structuredClone({ ...shape }) as T;
}

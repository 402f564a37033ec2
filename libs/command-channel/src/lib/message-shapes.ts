import { Type } from 'class-transformer';
import {
  Allow,
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { TASK_STATES, TASK_TYPES, TaskState, TaskType } from '@shipdeck/tasks';
import { CHANNEL_LIMITS, WORKER_RUN_STATES, WorkerRunState } from './protocol';

// The fields of every channel message, as class-validator DTOs checked by `validateInput` of
// @shipdeck/errors. Fields a newer peer adds are dropped, not refused (see messages.ts).

const NON_EMPTY = { message: 'must be a non-empty string' };
const STRING = { message: 'must be a string' };
const NON_NEGATIVE = { message: 'must be a non-negative integer' };
const OBJECT = { message: 'must be an object' };
const RUN_STATE = { message: `must be one of ${WORKER_RUN_STATES.join(', ')}` };
const at = (limit: number) => ({ message: `must be at most ${limit} characters long` });

/**
 * A required string of 1 to `limit` characters (ids, nonces, reasons), with one message for
 * every rule, so that a missing one is reported once.
 */
function BoundedString(limit: number): PropertyDecorator {
  const message = { message: `must be a non-empty string of at most ${limit} characters` };
  // In the order stacked decorators apply (bottom up): the rules are reported in this order.
  const rules = [MaxLength(limit, message), MinLength(1, message), IsString(message)];
  return (target, property) => {
    for (const rule of rules) rule(target, property);
  };
}
const TEXT = at(CHANNEL_LIMITS.text);
const PROOF = at(CHANNEL_LIMITS.proof);
const TASKS = { message: `must list at most ${CHANNEL_LIMITS.tasks} tasks` };
/** Ids name files, log lines and database rows: printable, no blanks. */
const ID_PATTERN = /^[\x21-\x7e]+$/;
const ID_CHARS = { message: 'must be printable ASCII without blanks' };
/** Display names and addresses end up in log lines: no control characters. */
const NO_CONTROL = /^[^\p{Cc}]*$/u;
const NO_CONTROL_CHARS = { message: 'must not contain control characters' };

export class RegisteredTaskShape {
  @BoundedString(CHANNEL_LIMITS.id)
  id!: string;

  @IsIn(TASK_TYPES, { message: `must be one of ${TASK_TYPES.join(', ')}` })
  type!: TaskType;

  @IsIn(TASK_STATES, { message: `must be one of ${TASK_STATES.join(', ')}` })
  state!: TaskState;
}

export class RegistrationShape {
  /** Kept as sent: a newer worker's version is the master's to judge, not the decoder's. */
  @IsInt(NON_NEGATIVE)
  @Min(0, NON_NEGATIVE)
  protocolVersion!: number;

  @BoundedString(CHANNEL_LIMITS.id)
  @Matches(ID_PATTERN, ID_CHARS)
  workerId!: string;

  @IsString(STRING)
  @MaxLength(CHANNEL_LIMITS.name, at(CHANNEL_LIMITS.name))
  @Matches(NO_CONTROL, NO_CONTROL_CHARS)
  name!: string;

  @IsString(STRING)
  @MaxLength(CHANNEL_LIMITS.address, at(CHANNEL_LIMITS.address))
  @Matches(NO_CONTROL, NO_CONTROL_CHARS)
  address!: string;

  @IsString(STRING)
  @MaxLength(CHANNEL_LIMITS.configHash, at(CHANNEL_LIMITS.configHash))
  @Matches(NO_CONTROL, NO_CONTROL_CHARS)
  configHash!: string;

  @IsInt(NON_NEGATIVE)
  @Min(0, NON_NEGATIVE)
  capacity!: number;

  @IsIn(WORKER_RUN_STATES, RUN_STATE)
  state!: WorkerRunState;

  @IsArray({ message: 'must be an array' })
  @ArrayMaxSize(CHANNEL_LIMITS.tasks, TASKS)
  @ValidateNested({ each: true })
  @Type(() => RegisteredTaskShape)
  tasks!: RegisteredTaskShape[];
}

export class RegisterProofShape {
  @BoundedString(CHANNEL_LIMITS.proof)
  nonce!: string;

  @BoundedString(CHANNEL_LIMITS.proof)
  mac!: string;
}

export class RegisterShape {
  @IsObject(OBJECT)
  @ValidateNested()
  @Type(() => RegistrationShape)
  registration!: RegistrationShape;

  @IsOptional()
  @IsObject(OBJECT)
  @ValidateNested()
  @Type(() => RegisterProofShape)
  proof?: RegisterProofShape;
}

export class HeartbeatShape {
  @IsIn(WORKER_RUN_STATES, RUN_STATE)
  state!: WorkerRunState;

  @IsArray({ message: 'must be an array of non-empty strings' })
  @ArrayMaxSize(CHANNEL_LIMITS.tasks, TASKS)
  @IsString({ each: true, message: 'must be an array of non-empty strings' })
  @MinLength(1, { each: true, message: 'must be an array of non-empty strings' })
  @MaxLength(CHANNEL_LIMITS.id, { each: true, message: `must be an array of non-empty strings of at most ${CHANNEL_LIMITS.id} characters` })
  runningTasks!: string[];
}

export class ReplyBodyShape {
  @IsBoolean({ message: 'must be true or false' })
  ok!: boolean;

  @IsString(STRING)
  @MaxLength(CHANNEL_LIMITS.text, TEXT)
  message!: string;

  /** Whatever the command answers; carried as sent. */
  @Allow()
  data?: unknown;
}

/** A message that answers or asks for an answer: it carries the request's id. */
abstract class RequestIdShape {
  @BoundedString(CHANNEL_LIMITS.id)
  requestId!: string;
}

export class ReplyShape extends RequestIdShape {
  @IsObject(OBJECT)
  @ValidateNested()
  @Type(() => ReplyBodyShape)
  reply!: ReplyBodyShape;
}

export class GoodbyeShape {
  @BoundedString(CHANNEL_LIMITS.text)
  reason!: string;
}

export class HelloShape {
  @IsInt(NON_NEGATIVE)
  @Min(0, NON_NEGATIVE)
  protocolVersion!: number;

  @BoundedString(CHANNEL_LIMITS.proof)
  nonce!: string;

  @IsBoolean({ message: 'must be true or false' })
  hmac!: boolean;
}

export class WelcomeShape {
  @BoundedString(CHANNEL_LIMITS.id)
  masterId!: string;

  @BoundedString(CHANNEL_LIMITS.configHash)
  configHash!: string;

  @IsOptional()
  @IsString(NON_EMPTY)
  @MaxLength(CHANNEL_LIMITS.proof, PROOF)
  proof?: string;
}

/** The kinds of command whose `taskId` the decoder checks. */
const TASK_COMMAND_KINDS: readonly string[] = ['stop', 'abort'];

export class CommandBodyShape {
  @BoundedString(CHANNEL_LIMITS.id)
  kind!: string;

  @ValidateIf((command: CommandBodyShape) => TASK_COMMAND_KINDS.includes(command.kind))
  @BoundedString(CHANNEL_LIMITS.id)
  taskId?: string;
}

export class CommandShape extends RequestIdShape {
  @IsObject(OBJECT)
  @ValidateNested()
  @Type(() => CommandBodyShape)
  command!: CommandBodyShape;
}

import { Type } from 'class-transformer';
import { Allow, IsArray, IsBoolean, IsIn, IsInt, IsObject, IsString, Min, MinLength, ValidateIf, ValidateNested } from 'class-validator';
import { TASK_STATES, TASK_TYPES, TaskState, TaskType } from '@shipdeck/tasks';
import { WORKER_RUN_STATES, WorkerRunState } from './protocol';

// The fields of every channel message, as class-validator DTOs checked by `validateInput` of
// @shipdeck/errors. Fields a newer peer adds are dropped, not refused (see messages.ts).

const NON_EMPTY = { message: 'must be a non-empty string' };
const STRING = { message: 'must be a string' };
const NON_NEGATIVE = { message: 'must be a non-negative integer' };
const OBJECT = { message: 'must be an object' };
const RUN_STATE = { message: `must be one of ${WORKER_RUN_STATES.join(', ')}` };

export class RegisteredTaskShape {
  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
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

  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  workerId!: string;

  @IsString(STRING)
  name!: string;

  @IsString(STRING)
  address!: string;

  @IsString(STRING)
  configHash!: string;

  @IsInt(NON_NEGATIVE)
  @Min(0, NON_NEGATIVE)
  capacity!: number;

  @IsIn(WORKER_RUN_STATES, RUN_STATE)
  state!: WorkerRunState;

  @IsArray({ message: 'must be an array' })
  @ValidateNested({ each: true })
  @Type(() => RegisteredTaskShape)
  tasks!: RegisteredTaskShape[];
}

export class RegisterShape {
  @IsObject(OBJECT)
  @ValidateNested()
  @Type(() => RegistrationShape)
  registration!: RegistrationShape;
}

export class HeartbeatShape {
  @IsIn(WORKER_RUN_STATES, RUN_STATE)
  state!: WorkerRunState;

  @IsArray({ message: 'must be an array of non-empty strings' })
  @IsString({ each: true, message: 'must be an array of non-empty strings' })
  @MinLength(1, { each: true, message: 'must be an array of non-empty strings' })
  runningTasks!: string[];
}

export class ReplyBodyShape {
  @IsBoolean({ message: 'must be true or false' })
  ok!: boolean;

  @IsString(STRING)
  message!: string;

  /** Whatever the command answers; carried as sent. */
  @Allow()
  data?: unknown;
}

export class ReplyShape {
  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  requestId!: string;

  @IsObject(OBJECT)
  @ValidateNested()
  @Type(() => ReplyBodyShape)
  reply!: ReplyBodyShape;
}

export class GoodbyeShape {
  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  reason!: string;
}

export class WelcomeShape {
  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  masterId!: string;

  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  configHash!: string;
}

/** The kinds of command whose `taskId` the decoder checks. */
const TASK_COMMAND_KINDS: readonly string[] = ['stop', 'abort'];

export class CommandBodyShape {
  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  kind!: string;

  @ValidateIf((command: CommandBodyShape) => TASK_COMMAND_KINDS.includes(command.kind))
  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  taskId?: string;
}

export class CommandShape {
  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  requestId!: string;

  @IsObject(OBJECT)
  @ValidateNested()
  @Type(() => CommandBodyShape)
  command!: CommandBodyShape;
}

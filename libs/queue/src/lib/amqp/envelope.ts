import type { Message } from 'rhea';
import { IsIn, IsNumber, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { ValidationError, validateInput } from '@shipdeck/errors';
import { TASK_TYPES } from '@shipdeck/tasks';
import { MessageProperty, TASK_MESSAGE_VERSION, TaskMessage } from '../message';

/** The AMQP message id of a task message: unique per publication, the same on a resend. */
export function taskMessageId(message: TaskMessage): string {
  return `${message.taskId}/${message.publishedAt}`;
}

/**
 * The AMQP 1.0 message for a task message: the JSON of the message as body (an AMQP string
 * value), the same fields as application properties under their wire names (for selectors and
 * for people browsing the queue), durable.
 */
export function encodeTaskMessage(message: TaskMessage): Message {
  return {
    message_id: taskMessageId(message),
    durable: true,
    content_type: 'application/json',
    application_properties: {
      [MessageProperty.version]: message.version,
      [MessageProperty.taskId]: message.taskId,
      [MessageProperty.taskType]: message.taskType,
      [MessageProperty.configHash]: message.configHash,
      [MessageProperty.publishedBy]: message.publishedBy,
      [MessageProperty.publishedAt]: message.publishedAt,
    },
    body: JSON.stringify(message),
  };
}

export type DecodedTaskMessage = { ok: true; message: TaskMessage } | { ok: false; reason: string };

/**
 * Reads a task message from a received AMQP message. The body is the truth; it may arrive as a
 * string value or as a data section (a broker or another client may convert). A message of an
 * unknown envelope version is passed on as long as its fields are there: refusing it is the
 * consumer's decision, not the transport's.
 */
export function decodeTaskMessage(amqp: Pick<Message, 'body'>): DecodedTaskMessage {
  const text = bodyText(amqp.body);
  if (text === undefined) return { ok: false, reason: `body is ${describe(amqp.body)}, not JSON text` };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: `body is not JSON: ${(error as Error).message}` };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, reason: 'body is not a JSON object' };
  }
  let fields: TaskMessageShape;
  if (isWellFormed(parsed)) {
    fields = parsed;
  } else {
    const shape = (parsed as { version?: unknown }).version === TASK_MESSAGE_VERSION ? CurrentTaskMessageShape : TaskMessageShape;
    try {
      fields = validateInput(shape, parsed, { what: 'task message', forbidUnknown: false });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      return { ok: false, reason: error.message };
    }
  }
  const message = {
    version: fields.version,
    taskId: fields.taskId,
    taskType: fields.taskType,
    configHash: fields.configHash,
    publishedBy: fields.publishedBy,
    publishedAt: fields.publishedAt,
    ...(fields.signature === undefined ? {} : { signature: fields.signature }),
  } as TaskMessage;
  return { ok: true, message };
}

const NON_EMPTY = { message: 'is not a non-empty string' };

/**
 * The fields of a task message of any envelope version: a message of an unknown version is
 * passed on as long as they are there (see {@link decodeTaskMessage}). Other fields are dropped.
 */
class TaskMessageShape {
  @IsNumber({}, { message: 'is not a number' })
  version!: number;

  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  taskId!: string;

  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  taskType!: string;

  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  configHash!: string;

  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  publishedBy!: string;

  @IsString(NON_EMPTY)
  @MinLength(1, NON_EMPTY)
  publishedAt!: string;

  /** Checked by the port's SignedTaskQueue, not here: the transport only carries it. */
  @IsOptional()
  @IsString(NON_EMPTY)
  @MaxLength(128, { message: 'is longer than 128 characters' })
  signature?: string;
}

/** A task message of this version: its task type must be one this version knows. */
class CurrentTaskMessageShape extends TaskMessageShape {
  @IsIn(TASK_TYPES, { message: ({ value }) => `"${String(value)}" is not one of ${TASK_TYPES.join(', ')}` })
  declare taskType: string;
}

const REQUIRED_TEXT = ['taskId', 'taskType', 'configHash', 'publishedBy', 'publishedAt'] as const;

/**
 * Every worker decodes every task message: class-transformer and class-validator cost about 3 % of
 * a worker's CPU per task. This check accepts exactly the messages the shapes below accept with a
 * signature absent or a string (anything else, null included, goes to the shapes, which also say
 * why a message is malformed); the spec checks the two agree.
 */
export function isWellFormed(value: object): value is TaskMessageShape {
  const fields = value as Record<string, unknown>;
  if (typeof fields['version'] !== 'number' || !Number.isFinite(fields['version'])) return false;
  for (const name of REQUIRED_TEXT) {
    const field = fields[name];
    if (typeof field !== 'string' || field.length === 0) return false;
  }
  const signature = fields['signature'];
  if (signature !== undefined && (typeof signature !== 'string' || signature.length > 128)) return false;
  return fields['version'] !== TASK_MESSAGE_VERSION || (TASK_TYPES as readonly unknown[]).includes(fields['taskType']);
}

function bodyText(body: unknown): string | undefined {
  if (typeof body === 'string') return body;
  if (Buffer.isBuffer(body)) return body.toString('utf8');
  // rhea hands a data section over as a Section object (typecode 0x75) holding a Buffer.
  const content = (body as { content?: unknown } | null | undefined)?.content;
  if (Buffer.isBuffer(content)) return content.toString('utf8');
  return undefined;
}

function describe(body: unknown): string {
  if (body === null || body === undefined) return 'empty';
  return Array.isArray(body) ? 'a list' : `a ${typeof body}`;
}

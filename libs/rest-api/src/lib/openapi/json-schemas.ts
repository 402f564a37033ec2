import { ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { targetConstructorToSchema } from 'class-validator-jsonschema';
import { AuthErrorCode } from '@shipdeck/auth';
import { MAX_NAME_LENGTH, NAME_PATTERN, VERSION_PATTERN } from '@shipdeck/domain';
import { ErrorCode } from '@shipdeck/errors';
import { TASK_STATES, TASK_TYPES, TaskActors } from '@shipdeck/tasks';
import { DtoClass, ElementRule, STEP_PATH_PATTERN, anyString, name, nonEmptyString, stepPath, version } from '../validation';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it), as plain data. */
export type JsonSchema = { [keyword: string]: unknown };

/**
 * The JSON Schema of an element rule of `@ArrayOf` / `@RecordOf`: exact for the rules known here;
 * any other rule is described by its own words (its check is code, not a pattern), which is
 * looser but never wrong.
 */
function elementSchema(rule: ElementRule): JsonSchema {
  if (rule === nonEmptyString) return { type: 'string', pattern: '\\S' };
  if (rule === anyString) return { type: 'string' };
  if (rule === stepPath) return { type: 'string', pattern: STEP_PATH_PATTERN.source };
  // names.ts also refuses `..` anywhere, which the pattern alone lets through.
  if (rule === name) return { type: 'string', maxLength: MAX_NAME_LENGTH, pattern: NAME_PATTERN.source, not: { pattern: '\\.\\.' } };
  if (rule === version) return { type: 'string', maxLength: MAX_NAME_LENGTH, pattern: VERSION_PATTERN.source, not: { pattern: '\\.\\.' } };
  return { description: rule.expected };
}

/**
 * The custom validators of validation.ts, which class-validator-jsonschema cannot read itself: it
 * would fall back to the reflected type, and the bundled runtime has no decorator metadata.
 */
function customValidation(meta: ValidationMetadata): JsonSchema {
  const rule = (meta.context as { rule?: ElementRule } | undefined)?.rule;
  if (meta.name === 'arrayOf' && rule) return { type: 'array', items: elementSchema(rule) };
  if (meta.name === 'recordOf' && rule) return { type: 'object', additionalProperties: elementSchema(rule) };
  // A single value checked by a rule (`@Is(rule)` of dtos.ts).
  if (rule) return elementSchema(rule);
  throw new Error(`no JSON Schema for the custom validator ${meta.name ?? '(unnamed)'} of ${meta.propertyName}: add it to json-schemas.ts`);
}

/**
 * The schemas of the request DTOs `classes` (bodies and queries), by class name, generated from
 * their validators, inherited ones included (`PageQuery`'s `limit` and `cursor`). Only these
 * classes: class-validator's metadata also holds classes that are no part of the API (the
 * manifest shapes of @shipdeck/domain), whose custom validators have no schema here.
 */
export function dtoSchemas(refPrefix: string, classes: readonly DtoClass<object>[]): Record<string, JsonSchema> {
  const options = { refPointerPrefix: refPrefix, additionalConverters: { [ValidationTypes.CUSTOM_VALIDATION]: customValidation } };
  return Object.fromEntries(classes.map((dto) => [dto.name, targetConstructorToSchema(dto, options) as JsonSchema]));
}

const STRING_OR_NULL = { type: ['string', 'null'] };
const TIME_OR_NULL = { type: ['string', 'null'], format: 'date-time' };

/** The fields a task has in a list and on its own (`TaskView` but its plan, steps and actors). */
const TASK_FIELDS: Record<string, JsonSchema> = {
  id: { type: 'string' },
  type: { type: 'string', enum: [...TASK_TYPES] },
  description: { type: 'string' },
  state: { type: 'string', enum: [...TASK_STATES, 'UNKNOWN'] },
  worker: STRING_OR_NULL,
  attempt: { type: 'integer' },
  application: STRING_OR_NULL,
  version: STRING_OR_NULL,
  environment: STRING_OR_NULL,
  kind: STRING_OR_NULL,
  failure: STRING_OR_NULL,
  createdAt: { type: 'string', format: 'date-time' },
  scheduledAt: TIME_OR_NULL,
  queuedAt: TIME_OR_NULL,
  claimedAt: TIME_OR_NULL,
  startedAt: TIME_OR_NULL,
  completedAt: TIME_OR_NULL,
};

/** The kinds of `TaskActors`; `satisfies` keeps the list to its keys. */
const TASK_ACTOR_KINDS = ['createdBy', 'startedBy', 'stoppedBy', 'cancelledBy', 'archivedBy'] as const satisfies readonly (keyof TaskActors)[];
const TASK_ACTOR: JsonSchema = {
  type: ['object', 'null'],
  required: ['user', 'at'],
  properties: { user: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
};

/**
 * Schemas of the answers. The answers are TypeScript interfaces (no runtime metadata), so their
 * schemas are written here; the fields follow `TaskView`, `ErrorBody` and the other answer types.
 */
export const ANSWER_SCHEMAS: Record<string, JsonSchema> = {
  Error: {
    type: 'object',
    description: 'Every error answer (4xx, 5xx): a stable code, a message, and per-field details for invalid input.',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message', 'details'],
        properties: {
          code: { type: 'string', enum: [...Object.values(ErrorCode), ...Object.values(AuthErrorCode)] },
          message: { type: 'string' },
          details: {
            type: 'array',
            items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } },
          },
        },
      },
    },
  },
  Health: { type: 'object', required: ['status'], properties: { status: { const: 'UP' } } },
  Step: {
    type: 'object',
    properties: {
      path: { type: 'string', pattern: STEP_PATH_PATTERN.source },
      description: { type: 'string' },
      state: { type: 'string' },
      order: { type: 'integer' },
      host: { type: 'string' },
      ciType: { type: 'string' },
      operation: { type: 'string' },
      pauseBefore: { type: 'boolean' },
      startedAt: TIME_OR_NULL,
      completedAt: TIME_OR_NULL,
      failure: STRING_OR_NULL,
    },
  },
  Task: {
    type: 'object',
    required: ['id', 'type', 'state', 'plan', 'steps'],
    properties: {
      ...TASK_FIELDS,
      plan: { type: 'object', description: 'Phases, blocks and steps, with the states derived for blocks and phases.' },
      steps: { type: 'array', items: { $ref: '#/components/schemas/Step' } },
      actors: {
        type: 'object',
        description: 'Only in the answer of `GET /tasks/{id}`: who acted on the task, from the audit trail; null where nobody did.',
        properties: Object.fromEntries(TASK_ACTOR_KINDS.map((kind) => [kind, TASK_ACTOR])),
      },
    },
  },
  TaskSummary: {
    type: 'object',
    description: 'A task in a list: everything but its plan and steps (`GET /tasks/{id}` has them).',
    required: ['id', 'type', 'state', 'stepCount', 'stepsDone'],
    properties: {
      ...TASK_FIELDS,
      stepCount: { type: 'integer', description: 'How many steps the plan has.' },
      stepsDone: { type: 'integer', description: 'How many of them are DONE or SKIPPED.' },
    },
  },
  CreatedTask: {
    type: 'object',
    required: ['taskId', 'task'],
    properties: { taskId: { type: 'string' }, task: { $ref: '#/components/schemas/Task' } },
  },
  Resource: { type: 'object', description: 'A resource as the API answers it (see docs/api.md and the spec, §6).' },
};

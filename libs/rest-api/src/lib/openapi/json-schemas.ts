import { ValidationTypes } from 'class-validator';
import type { ValidationMetadata } from 'class-validator/types/metadata/ValidationMetadata';
import { validationMetadatasToSchemas } from 'class-validator-jsonschema';
import { AuthErrorCode } from '@shipdeck/auth';
import { ErrorCode } from '@shipdeck/errors';
import { TASK_STATES, TASK_TYPES } from '@shipdeck/tasks';
import { ElementRule, STEP_PATH_PATTERN, anyString, nonEmptyString, stepPath } from '../validation';
// The DTO modules register their classes' validation metadata when loaded; the schemas are read from there.
import '../dtos';
import '../auth-dtos';

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
  throw new Error(`no JSON Schema for the custom validator ${meta.name ?? '(unnamed)'} of ${meta.propertyName}: add it to json-schemas.ts`);
}

/** The schemas of every request DTO (bodies and queries), by class name, generated from their validators. */
export function dtoSchemas(refPrefix: string): Record<string, JsonSchema> {
  return validationMetadatasToSchemas({
    refPointerPrefix: refPrefix,
    additionalConverters: { [ValidationTypes.CUSTOM_VALIDATION]: customValidation },
  }) as Record<string, JsonSchema>;
}

const STRING_OR_NULL = { type: ['string', 'null'] };
const TIME_OR_NULL = { type: ['string', 'null'], format: 'date-time' };

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
      plan: { type: 'object', description: 'Phases, blocks and steps, with the states derived for blocks and phases.' },
      steps: { type: 'array', items: { $ref: '#/components/schemas/Step' } },
    },
  },
  CreatedTask: {
    type: 'object',
    required: ['taskId', 'task'],
    properties: { taskId: { type: 'string' }, task: { $ref: '#/components/schemas/Task' } },
  },
  Resource: { type: 'object', description: 'A resource as the API answers it (see docs/api.md and the spec, §6).' },
};

import type { Request } from 'express';
import { plainToInstance } from 'class-transformer';
import {
  IsDefined,
  IsISO8601,
  IsOptional,
  Matches,
  ValidateBy,
  ValidationError as ClassValidationError,
  ValidationOptions,
  isString,
  matches,
  validateSync,
} from 'class-validator';
import { ErrorCode, FieldError, ValidationError } from '@shipdeck/errors';
import { NameKind, nameProblem } from '@shipdeck/domain';
import { checkInputShape } from './input-limits';

/*
 * The one way REST input is validated: DTO classes (dtos.ts) carry class-validator's built-in
 * decorators with this API's {@link MESSAGES}; the two collection decorators
 * below exist because clients need one detail per bad element (`hosts[1]`, `dictionary.KEY`),
 * which the built-ins' `each: true` does not give.
 */

/**
 * Checks one element of an array or one value of a record; answers why it is invalid, or
 * undefined when it is fine. Kept as data so that a failed collection can be reported element
 * by element (`hosts[1]`, `dictionary.KEY`) rather than as one vague message.
 */
export interface ElementRule {
  /** What a valid element is, e.g. `a non-empty string`; used in messages. */
  readonly expected: string;
  check(element: unknown): string | undefined;
}

/** Step paths: 1-based indices joined by `-`, at most phase-block-step (spec §2). */
export const STEP_PATH_PATTERN = /^\d+(-\d+){0,2}$/;

/** A string with something besides white space in it. */
export const NON_BLANK = /\S/;

/** Calendar date, optionally with time and zone: the ISO 8601 forms `Date` reads (no week or ordinal dates). */
export const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

const NON_EMPTY_STRING_MESSAGE = 'must be a non-empty string';

/** A string that is not empty or blank. */
export const nonEmptyString: ElementRule = {
  expected: 'a non-empty string',
  check: (v) => (isString(v) && matches(v, NON_BLANK) ? undefined : NON_EMPTY_STRING_MESSAGE),
};

/** Any string, the empty one too (dictionary values). */
export const anyString: ElementRule = {
  expected: 'a string',
  check: (v) => (isString(v) ? undefined : 'must be a string'),
};

/** A step path like 1-2-3. */
export const stepPath: ElementRule = {
  expected: 'a step path like 1-2-3',
  check: (v) => (isString(v) && matches(v, STEP_PATH_PATTERN) ? undefined : 'must be a step path like 1-2-3'),
};

/** A name by the rules of spec §1 (hosts, environments, applications, tags, dictionary keys…). */
export const name: ElementRule = {
  expected: 'a name',
  check: (v) => nameProblem(v),
};

/** A version by the rules of spec §1 (a name that may also contain `+`). */
export const version: ElementRule = {
  expected: 'a version',
  check: (v) => nameProblem(v, 'version'),
};

const ARRAY_OF = 'arrayOf';
const RECORD_OF = 'recordOf';

interface CollectionContext {
  rule: ElementRule;
  /** Arrays: each element may appear once. */
  unique?: boolean;
  /** Records: what each key must be. */
  keyRule?: ElementRule;
}

/** Options of {@link ArrayOf}. */
export interface ArrayOfOptions extends ValidationOptions {
  /** Refuse an element equal to an earlier one (`hosts[3]: duplicate of hosts[1]`). */
  unique?: boolean;
}

/** Why each element of `value` is invalid, as `[index, message]`; duplicates too when `unique`. */
function arrayProblems(value: unknown[], context: CollectionContext): [number, string][] {
  const first = new Map<unknown, number>();
  const problems: [number, string][] = [];
  value.forEach((element, i) => {
    const message = context.rule.check(element);
    if (message !== undefined) {
      problems.push([i, message]);
      return;
    }
    if (!context.unique) return;
    const earlier = first.get(element);
    if (earlier === undefined) first.set(element, i);
    else problems.push([i, `duplicate of element ${earlier}`]);
  });
  return problems;
}

/** Why each entry of `value` is invalid, as `[key, message]`: its key or its value. */
function recordProblems(value: Record<string, unknown>, context: CollectionContext): [string, string][] {
  return Object.entries(value).flatMap(([key, element]): [string, string][] => {
    const keyMessage = context.keyRule ? context.keyRule.check(key) : key.trim() === '' ? 'keys must be non-empty' : undefined;
    if (keyMessage !== undefined) return [[key, `key ${keyMessage}`]];
    const message = context.rule.check(element);
    return message === undefined ? [] : [[key, message]];
  });
}

/** Whether a value is a JSON object (not an array, not null, not a class instance). */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An array whose every element satisfies `rule`; failures are reported per element (`field[i]`). */
export function ArrayOf(rule: ElementRule, options: ArrayOfOptions = {}): PropertyDecorator {
  const { unique, ...validationOptions } = options;
  const context: CollectionContext = { rule, unique };
  return ValidateBy(
    {
      name: ARRAY_OF,
      validator: {
        validate: (value: unknown) => Array.isArray(value) && arrayProblems(value, context).length === 0,
        defaultMessage: () => `must be an array of ${rule.expected}s`,
      },
    },
    { ...validationOptions, context },
  );
}

/**
 * A JSON object whose every value satisfies `rule` (and every key `keyRule`, non-blank when
 * none is given); failures are reported per key (`field.KEY`).
 */
export function RecordOf(rule: ElementRule, options: ValidationOptions & { keyRule?: ElementRule } = {}): PropertyDecorator {
  const { keyRule, ...validationOptions } = options;
  const context: CollectionContext = { rule, keyRule };
  return ValidateBy(
    {
      name: RECORD_OF,
      validator: {
        validate: (value: unknown) => isPlainObject(value) && recordProblems(value, context).length === 0,
        defaultMessage: () => `must be an object whose values are ${rule.expected}s`,
      },
    },
    { ...validationOptions, context },
  );
}

/** Messages of the built-in decorators the DTOs use, in this API's words (no property name prefix). */
export const MESSAGES = {
  required: { message: 'is required' },
  nonEmptyString: { message: NON_EMPTY_STRING_MESSAGE },
  object: { message: 'must be an object' },
  isoDateTime: { message: 'must be an ISO 8601 date-time, e.g. 2030-01-31T18:00:00Z' },
  oneOf: (values: readonly string[]): ValidationOptions => ({ message: `must be one of ${values.join(', ')}` }),
} as const;

/** Applies every decorator to the property: a name for a combination of built-ins used on many fields. */
function allOf(...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, property) => decorators.forEach((decorate) => decorate(target, property));
}

/** A required non-empty string: the built-ins `@IsDefined` and `@Matches(NON_BLANK)`. */
export const IsRequiredString = (): PropertyDecorator =>
  allOf(IsDefined(MESSAGES.required), Matches(NON_BLANK, MESSAGES.nonEmptyString));

/**
 * An ISO 8601 calendar date or date-time on a day that exists: the built-ins `@Matches`
 * (the forms `Date` reads) and `@IsISO8601({ strict: true })` (no 2030-02-31), one message.
 */
export const IsIsoDateTime = (): PropertyDecorator =>
  allOf(Matches(ISO_DATE_TIME, MESSAGES.isoDateTime), IsISO8601({ strict: true }, MESSAGES.isoDateTime));

/** An optional bound of a time window (`from`, `to`, `expiresAt`): absent, or {@link IsIsoDateTime}. */
export const IsOptionalIsoDateTime = (): PropertyDecorator => allOf(IsOptional(), IsIsoDateTime());

/** A list query's time window, both ends optional; see {@link checkTimeWindow}. */
export interface TimeWindowQuery {
  from?: string;
  to?: string;
}

/** 400 naming `to` when the window of a validated query ends before it starts. */
export function checkTimeWindow(query: TimeWindowQuery): void {
  if (query.from && query.to && toDate(query.from) > toDate(query.to)) {
    throw invalid('query', [{ field: 'to', message: 'must not be before from' }]);
  }
}

/** The instant of a string validated by {@link IsIsoDateTime}. */
export function toDate(value: string): Date {
  return new Date(value);
}

/** Constructor of a DTO class; DTOs take no constructor arguments. */
export type DtoClass<T extends object> = new () => T;

/**
 * Turns an untrusted plain object into a validated DTO instance, or throws a
 * {@link ValidationError} (HTTP 400) with one detail per invalid field.
 *
 * Only explicit decorators are relied on: the production bundle (esbuild) emits no decorator
 * metadata, so `enableImplicitConversion` stays off and nothing depends on reflected types.
 */
export function validateDto<T extends object>(dto: DtoClass<T>, plain: Record<string, unknown>, what: string): T {
  const instance = plainToInstance(dto, plain, { enableImplicitConversion: false });
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    validationError: { target: false, value: true },
  });
  if (errors.length === 0) return instance;
  throw invalid(what, toFieldErrors(errors));
}

/**
 * A 400 VALIDATION_FAILED naming the invalid fields; each field's reason is in its detail,
 * so that clients printing message and details do not repeat themselves.
 */
export function invalid(what: string, details: FieldError[]): ValidationError {
  return new ValidationError(`invalid ${what}: ${details.map((d) => d.field).join(', ')}`, details, ErrorCode.VALIDATION_FAILED);
}

/** Flattens class-validator's error tree to one {@link FieldError} per invalid field, with dotted paths. */
export function toFieldErrors(errors: readonly ClassValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = joinPath(parent, error.property);
    const constraints = error.constraints ?? {};
    if (Object.keys(constraints).length > 0) out.push(...fieldErrorsOf(field, error, constraints));
    if (error.children?.length) out.push(...toFieldErrors(error.children, field));
  }
  return out;
}

function fieldErrorsOf(field: string, error: ClassValidationError, constraints: Record<string, string>): FieldError[] {
  if ('whitelistValidation' in constraints) return [{ field, message: 'unknown field' }];
  if ('isDefined' in constraints) return [{ field, message: constraints['isDefined'] }];
  const value: unknown = error.value;
  const collection = (error.contexts?.[ARRAY_OF] ?? error.contexts?.[RECORD_OF]) as CollectionContext | undefined;
  if (ARRAY_OF in constraints && collection && Array.isArray(value)) {
    return arrayProblems(value, collection).map(([i, message]) => ({ field: `${field}[${i}]`, message }));
  }
  if (RECORD_OF in constraints && collection && isPlainObject(value)) {
    return recordProblems(value, collection).map(([key, message]) => ({ field: joinKey(field, key), message }));
  }
  // A field's rules share one message (a date's format and calendar checks say the same), so the first says it.
  return [{ field, message: Object.values(constraints)[0] }];
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/;

/** Path of a nested DTO property; class-validator names array elements by their index. */
function joinPath(parent: string, property: string): string {
  if (parent === '') return property;
  return /^\d+$/.test(property) ? `${parent}[${property}]` : joinKey(parent, property);
}

/** Path of a record entry: `dictionary.KEY`, or `dictionary["a key"]` when the key is not an identifier. */
function joinKey(parent: string, key: string): string {
  return IDENTIFIER.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** The validated body of a request; `readBody` has already ensured it is a plain object. */
export function bodyOf<T extends object>(req: Request, dto: DtoClass<T>): T {
  const body: unknown = req.body;
  if (!isPlainObject(body)) throw new ValidationError('the request body must be an object', [], ErrorCode.MALFORMED_BODY);
  return validateDto(dto, body, 'request body');
}

/** The validated query string of a request. */
export function queryOf<T extends object>(req: Request, dto: DtoClass<T>): T {
  const query = { ...(req.query as Record<string, unknown>) };
  checkInputShape(query, 'query');
  return validateDto(dto, query, 'query');
}

/**
 * A path parameter, which is always a name (or version, or id) by the rules of spec §1: a 400
 * naming the parameter otherwise, before any lookup, so that no hostile value reaches a
 * service, a log line or a header.
 */
export function param(req: Request, parameter: string, kind: NameKind = 'name'): string {
  const value: unknown = req.params[parameter];
  if (typeof value !== 'string' || value === '') {
    throw invalid('path parameter', [{ field: parameter, message: 'is required' }]);
  }
  const problem = nameProblem(value, kind);
  if (problem !== undefined) throw invalid('path parameter', [{ field: parameter, message: problem }]);
  return value;
}

/** The step path parameter, checked against `phase[-block[-step]]`. */
export function stepPathParam(req: Request): string {
  const path = param(req, 'path');
  if (!STEP_PATH_PATTERN.test(path)) {
    const detail: FieldError = { field: 'path', message: 'must be a step path like 1-2-3' };
    throw invalid('path parameter', [detail]);
  }
  return path;
}

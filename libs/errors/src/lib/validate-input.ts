// class-transformer's @Type (nested DTOs) reads decorator metadata through Reflect.getMetadata;
// TypeORM loads this polyfill in every process anyway, but a DTO module must not depend on that.
import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { ValidationError as ClassValidationError, validateSync } from 'class-validator';
import { ErrorCode } from './codes';
import { FieldError, ValidationError } from './errors';

/** Constructor of a DTO class: class-validator decorators on its fields; no constructor arguments. */
export type InputClass<T extends object> = new () => T;

/** Options of {@link validateInput}. */
export interface ValidateInputOptions {
  /** What the input is, for the error message: `register message`, `task message`, `request body`. */
  what: string;
  /**
   * Fields the DTO does not declare are an error (`unknown field`) when true; when false they are
   * dropped, e.g. what a newer peer adds to a message. Default true.
   */
  forbidUnknown?: boolean;
  /** Code of the thrown error. Default `VALIDATION_FAILED`. */
  code?: ErrorCode;
}

/** Options of {@link inputErrors}. */
export interface InputErrorsOptions {
  /** See {@link ValidateInputOptions.forbidUnknown}. Default true. */
  forbidUnknown?: boolean;
  /** Only the first failing rule of each field (class-validator runs a field's decorators bottom-up). Default false. */
  stopAtFirstError?: boolean;
  /** Path of the input inside a larger document, prefixed to every field: `deployables[2]`. */
  field?: string;
}

/**
 * The one way Shipdeck checks untrusted structured input (channel messages, queue envelopes,
 * recovery files, configuration, REST bodies): turns `plain` into an instance of `dto` and checks
 * it with the class-validator decorators of `dto` (nested DTOs need `@ValidateNested()` and
 * class-transformer's `@Type(() => Nested)`). Answers the instance, or throws a
 * {@link ValidationError} whose details name every invalid field with a dotted path
 * (`registration.tasks[0].state`) and whose message is `invalid WHAT: FIELD MESSAGE; …`.
 *
 * Messages read best without the field name: give decorators `{ message: 'must be …' }`; a
 * class-validator default message has its leading property name cut off. Only explicit decorators
 * count: the production bundle (esbuild) emits no decorator metadata, so no type is converted.
 */
export function validateInput<T extends object>(dto: InputClass<T>, plain: unknown, options: ValidateInputOptions): T {
  const code = options.code ?? ErrorCode.VALIDATION_FAILED;
  if (!isObject(plain)) {
    throw new ValidationError(`invalid ${options.what}: must be an object`, [{ field: '', message: 'must be an object' }], code);
  }
  const { instance, errors } = inputErrors(dto, plain, { forbidUnknown: options.forbidUnknown });
  if (errors.length === 0) return instance;
  const problems = errors.map((d) => (d.field === '' ? d.message : `${d.field} ${d.message}`)).join('; ');
  throw new ValidationError(`invalid ${options.what}: ${problems}`, errors, code);
}

/**
 * What {@link validateInput} checks, for callers that collect the problems of a larger document
 * before they report them (a manifest and its deployables): the instance of `dto`, and one
 * {@link FieldError} per invalid field (none when `plain` is valid).
 */
export function inputErrors<T extends object>(
  dto: InputClass<T>,
  plain: Record<string, unknown>,
  options: InputErrorsOptions = {},
): { instance: T; errors: FieldError[] } {
  const instance = plainToInstance(dto, plain, { enableImplicitConversion: false });
  const errors = validateSync(instance, {
    whitelist: true,
    forbidNonWhitelisted: options.forbidUnknown ?? true,
    forbidUnknownValues: true,
    stopAtFirstError: options.stopAtFirstError ?? false,
    validationError: { target: false, value: false },
  });
  return { instance, errors: fieldErrors(errors, options.field ?? '') };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** class-validator's error tree as one {@link FieldError} per failed constraint, with dotted paths. */
export function fieldErrors(errors: readonly ClassValidationError[], parent = ''): FieldError[] {
  const out: FieldError[] = [];
  for (const error of errors) {
    const field = /^\d+$/.test(error.property) ? `${parent}[${error.property}]` : parent ? `${parent}.${error.property}` : error.property;
    const constraints = Object.entries(error.constraints ?? {});
    // "must be an object" of a nested DTO adds nothing to a rule of the field that failed too (`@IsArray`).
    const rules = constraints.length > 1 ? constraints.filter(([name]) => name !== 'nestedValidation') : constraints;
    const messages = rules.map(([name, message]) => RULE_MESSAGES[name] ?? withoutProperty(message, error.property));
    // Two rules may say the same (`@IsString` and `@MinLength(1)` as "must be a non-empty string").
    for (const message of new Set(messages)) out.push({ field, message });
    if (error.children?.length) out.push(...fieldErrors(error.children, field));
  }
  return out;
}

/** class-validator's own rules whose messages do not start with the property name. */
const RULE_MESSAGES: Record<string, string> = {
  whitelistValidation: 'unknown field',
  nestedValidation: 'must be an object',
};

/** `workerId must be a string` → `must be a string`: the field is named by the path already. */
function withoutProperty(message: string, property: string): string {
  return message.startsWith(`${property} `) ? message.slice(property.length + 1) : message;
}

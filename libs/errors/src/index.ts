export { ErrorCode } from './lib/codes';
export { ConfigError, ConflictError, IllegalTransitionError, NotFoundError, NotReadyError, PlanningError, ShipdeckError, ValidationError, isRetryable } from './lib/errors';
export type { FieldError } from './lib/errors';
export { inputErrors, validateInput } from './lib/validate-input';
export type { InputClass } from './lib/validate-input';

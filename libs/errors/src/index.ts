export * from './lib/codes';
export * from './lib/errors';
export { fieldErrors, inputErrors, validateInput } from './lib/validate-input';
export type { InputClass, InputErrorsOptions, ValidateInputOptions } from './lib/validate-input';

export * from './lib/codes';
export * from './lib/errors';
export { fieldErrors, validateInput } from './lib/validate-input';
export type { InputClass, ValidateInputOptions } from './lib/validate-input';

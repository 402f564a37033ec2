export * from './lib/codes';
export * from './lib/errors';

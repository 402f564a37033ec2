import { ConflictError, NotReadyError, isRetryable } from '@shipdeck/errors';
import { isUnavailable, translateError } from './errors';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('translateError', () => {
  it.each([
    withCode('ECONNREFUSED'),
    withCode('57P01'),
    withCode('08006'),
    withCode('53300'),
    withCode('SQLITE_BUSY'),
    new Error('Connection terminated unexpectedly'),
    new Error('timeout exceeded when trying to connect'),
    // TypeORM wraps driver errors; the code is on the wrapper and on driverError.
    Object.assign(new Error('query failed'), { driverError: { code: 'ECONNRESET' } }),
  ])('turns an unreachable database (%s) into a retryable NotReadyError', (error) => {
    expect(isUnavailable(error)).toBe(true);
    let thrown: unknown;
    try {
      translateError(error, 'reading task 1');
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(NotReadyError);
    expect(isRetryable(thrown)).toBe(true);
    expect((thrown as Error).message).toContain('reading task 1');
  });

  it('turns a uniqueness clash into a ConflictError', () => {
    expect(() => translateError(withCode('23505'), 'inserting task 1')).toThrow(ConflictError);
    expect(() => translateError(withCode('SQLITE_CONSTRAINT_PRIMARYKEY'), 'inserting task 1')).toThrow(ConflictError);
  });

  it('rethrows anything else unchanged', () => {
    const error = withCode('42P01', 'relation "tasks" does not exist');
    expect(isUnavailable(error)).toBe(false);
    expect(() => translateError(error, 'x')).toThrow(error);
  });
});

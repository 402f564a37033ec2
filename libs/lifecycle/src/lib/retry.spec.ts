import { NotReadyError, ValidationError } from '@shipdeck/errors';
import { retryUntil } from './retry';

const logger = { warn: jest.fn() };

describe('retryUntil', () => {
  it('retries retryable errors until the attempt succeeds', async () => {
    let calls = 0;
    const result = await retryUntil(
      'x',
      async () => {
        if (++calls < 3) throw new NotReadyError('not yet');
        return 'ok';
      },
      { timeoutMs: 5000, logger, initialDelayMs: 1 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('throws a non-retryable error at once', async () => {
    let calls = 0;
    await expect(
      retryUntil('x', async () => {
        calls++;
        throw new ValidationError('bad');
      }, { timeoutMs: 5000, logger, initialDelayMs: 1 }),
    ).rejects.toThrow('bad');
    expect(calls).toBe(1);
  });

  it('gives up after the time-out with the last error', async () => {
    await expect(
      retryUntil('x', async () => {
        throw new NotReadyError('still down');
      }, { timeoutMs: 30, logger, initialDelayMs: 5 }),
    ).rejects.toThrow('still down');
  });
});

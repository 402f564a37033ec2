import { closeWithoutStackTrace } from './rabbitmq-queue';

describe('closeWithoutStackTrace', () => {
  it('closes with no stack frames to capture, then puts the limit back', async () => {
    const before = Error.stackTraceLimit;
    let framesAtClose = -1;
    let resolveClose!: () => void;
    const connection = {
      close: () => {
        // What amqplib does as it closes: capture a stack trace and format it at once.
        framesAtClose = (new Error().stack ?? '').split('\n').length - 1;
        return new Promise<void>((resolve) => (resolveClose = resolve));
      },
    };
    const closing = closeWithoutStackTrace(connection);
    expect(framesAtClose).toBe(0);
    expect(Error.stackTraceLimit).toBe(before);
    expect(new Error().stack?.split('\n').length).toBeGreaterThan(1);
    resolveClose();
    await closing;
  });

  it('puts the limit back when close throws, and ignores a failed close', async () => {
    const before = Error.stackTraceLimit;
    await expect(closeWithoutStackTrace({ close: () => { throw new Error('socket gone'); } })).rejects.toThrow('socket gone');
    expect(Error.stackTraceLimit).toBe(before);
    await expect(closeWithoutStackTrace({ close: () => Promise.reject(new Error('closed already')) })).resolves.toBeUndefined();
  });
});

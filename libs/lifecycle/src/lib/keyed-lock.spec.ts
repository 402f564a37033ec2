import { KeyedLock } from './keyed-lock';

/** A promise its test settles by hand. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(error: Error): void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('KeyedLock', () => {
  it('runs the work of one key in order, one at a time', async () => {
    const lock = new KeyedLock();
    const events: string[] = [];
    const first = deferred();
    const a = lock.run('k', async () => {
      events.push('a start');
      await first.promise;
      events.push('a end');
      return 'a';
    });
    const b = lock.run('k', async () => {
      events.push('b start');
      return 'b';
    });
    await Promise.resolve();
    expect(events).toEqual(['a start']);
    first.resolve();
    await expect(Promise.all([a, b])).resolves.toEqual(['a', 'b']);
    expect(events).toEqual(['a start', 'a end', 'b start']);
  });

  it('runs the work of other keys without waiting', async () => {
    const lock = new KeyedLock();
    const held = deferred();
    const a = lock.run('a', () => held.promise);
    await expect(lock.run('b', async () => 'b')).resolves.toBe('b');
    held.resolve();
    await a;
  });

  it('goes on after a failed work, which its caller sees', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('k', async () => {
      throw new Error('boom');
    });
    const next = lock.run('k', async () => 'next');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('forgets a key once its work settled', async () => {
    const lock = new KeyedLock();
    const held = deferred();
    const work = lock.run('k', () => held.promise);
    expect(lock.busy('k')).toBe(true);
    held.resolve();
    await work;
    // The entry is dropped by a reaction queued after the work settled.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(lock.busy('k')).toBe(false);
  });
});

/**
 * Runs async work one at a time per key: work for a key starts once the previous work for the same
 * key settled (fulfilled or rejected), while work for other keys runs concurrently. A key's entry
 * is dropped once its last work settled, so the map does not grow with every key ever used.
 */
export class KeyedLock<K = string> {
  private readonly tails = new Map<K, Promise<void>>();

  /** Runs `work` after every earlier work of `key`; answers what `work` answers (its rejection too). */
  run<T>(key: K, work: () => Promise<T>): Promise<T> {
    const result = (this.tails.get(key) ?? Promise.resolve()).then(work);
    // The next work waits for this one but must not inherit its failure.
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether work for `key` is running or waiting. */
  busy(key: K): boolean {
    return this.tails.has(key);
  }
}

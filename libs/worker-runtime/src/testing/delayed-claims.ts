import { TaskLeases } from '@shipdeck/persistence';
import { Clock, sleep } from '../lib/clock';

/** A store whose claims wait; `waitingClaims` says how many are waiting now. */
export type DelayedClaims<S> = S & { readonly waitingClaims: number };

/**
 * Wraps a task store so that each claim waits `ms` on `clock` before it reaches the database: a
 * test can then hold a worker between receiving a message and claiming its task (and kill it
 * there, or let several claims of one task go at once).
 */
export function delayedClaims<S extends Pick<TaskLeases, 'claim'>>(store: S, ms: number, clock: Clock): DelayedClaims<S> {
  let waiting = 0;
  const claim: TaskLeases['claim'] = async (...args) => {
    waiting++;
    try {
      await sleep(clock, ms);
    } finally {
      waiting--;
    }
    return store.claim(...args);
  };
  return new Proxy(store, {
    get(target, property) {
      if (property === 'claim') return claim;
      if (property === 'waitingClaims') return waiting;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  }) as DelayedClaims<S>;
}

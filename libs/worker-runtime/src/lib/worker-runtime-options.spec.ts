import { ConfigError } from '@shipdeck/errors';
import { createLogger } from '@shipdeck/logging';
import { InProcessTaskQueue } from '@shipdeck/queue';
import { ManualClock } from '../testing/manual-clock';
import { systemClock } from './clock';
import { RuntimeTaskStore, WorkerRuntimeOptions, compileWorkerRuntimeOptions } from './worker-runtime-options';

const given: WorkerRuntimeOptions = {
  workerId: 'w',
  queue: new InProcessTaskQueue(),
  stores: { tasks: {} as RuntimeTaskStore, logs: { append: async () => undefined, read: async () => '', removeTask: async () => undefined } },
  executors: () => ({ execute: async () => undefined }),
  capacity: 2,
  configHash: 'h',
  leaseMs: 30_000,
  workDir: '/tmp/w',
  logger: createLogger({ level: 'error', json: false, name: 'options-test' }),
};

describe('compileWorkerRuntimeOptions', () => {
  it('applies every default', () => {
    expect(compileWorkerRuntimeOptions(given)).toMatchObject({
      tasks: given.stores.tasks,
      logs: given.stores.logs,
      takeoverAfterMs: null,
      leaseRenewIntervalMs: 5000,
      watchIntervalMs: 1000,
      checkpointIntervalMs: 2000,
      housekeepingIntervalMs: 5000,
      writeRetryMs: 600_000,
      claimRetryDelayMs: 1000,
      closeGraceMs: 5000,
      stepLogFlushMs: 250,
      clock: systemClock,
    });
  });

  it('renews a lease three times per lease, within 200 ms and 5 s', () => {
    expect(compileWorkerRuntimeOptions({ ...given, leaseMs: 3000 }).leaseRenewIntervalMs).toBe(1000);
    expect(compileWorkerRuntimeOptions({ ...given, leaseMs: 300 }).leaseRenewIntervalMs).toBe(200);
    expect(compileWorkerRuntimeOptions({ ...given, leaseMs: 60_000 }).leaseRenewIntervalMs).toBe(5000);
  });

  it('turns takeover on with its pass every quarter of the wait, at least every 500 ms', () => {
    expect(compileWorkerRuntimeOptions({ ...given, takeover: { enabled: true, afterMs: 10_000 } })).toMatchObject({
      takeoverAfterMs: 10_000,
      takeoverIntervalMs: 2500,
    });
    expect(compileWorkerRuntimeOptions({ ...given, takeover: { enabled: true, afterMs: 1000 } }).takeoverIntervalMs).toBe(500);
    expect(compileWorkerRuntimeOptions({ ...given, takeover: { enabled: false, afterMs: 1000 } }).takeoverAfterMs).toBeNull();
  });

  it('keeps what the caller gives', () => {
    const clock = new ManualClock();
    expect(compileWorkerRuntimeOptions({ ...given, clock, watchIntervalMs: 10, closeGraceMs: 0 })).toMatchObject({
      clock,
      watchIntervalMs: 10,
      closeGraceMs: 0,
    });
  });

  it('refuses a capacity or lease that cannot work', () => {
    expect(() => compileWorkerRuntimeOptions({ ...given, capacity: 0 })).toThrow(ConfigError);
    expect(() => compileWorkerRuntimeOptions({ ...given, capacity: 1.5 })).toThrow(ConfigError);
    expect(() => compileWorkerRuntimeOptions({ ...given, leaseMs: 0 })).toThrow(ConfigError);
  });
});

/**
 * Channel and lease timings short enough for process-level tests (lifecycle, recovery):
 * heartbeats every 300 ms, a worker silent for 2 s is DISCONNECTED (its tasks UNKNOWN), task
 * leases of 3 s, `-master` names re-resolved every second.
 */
export const FAST_CHANNEL_ENV: Readonly<Record<string, string>> = {
  SHIPDECK_WORKER_HEARTBEAT_INTERVAL: '300ms',
  SHIPDECK_WORKER_GRACE_PERIOD: '2s',
  SHIPDECK_TASK_LEASE_DURATION: '3s',
  SHIPDECK_WORKER_CONNECT_INTERVAL: '1s',
};

/** `worker.gracePeriod` of {@link FAST_CHANNEL_ENV}, in ms. */
export const GRACE_MS = 2_000;

/** {@link FAST_CHANNEL_ENV} with leases of 2 s: recovery tests wait for lost leases. */
export const FAST_LEASE_ENV: Readonly<Record<string, string>> = { ...FAST_CHANNEL_ENV, SHIPDECK_TASK_LEASE_DURATION: '2s' };

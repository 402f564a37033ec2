/**
 * Jest scaffolding for tests on a cluster ({@link startCluster}): the cluster is stopped after
 * the tests (with the command processes a test tracked), and a failing test carries the output
 * of the cluster's processes. Uses Jest's globals, unlike the rest of the harness.
 */
import { Cluster, ClusterOptions, startCluster, withClusterOutput } from './cluster';
import { killTrackedProcesses } from './processes';

const START_TIMEOUT_MS = 90_000;
const STOP_TIMEOUT_MS = 60_000;

/**
 * One test with a cluster of its own, started inside the test (so its start counts against
 * `timeoutMs`) and stopped after the enclosing block's tests. `options` may be a function, for
 * options made in a `beforeAll` (certificates, proxies).
 */
export function itWithCluster(name: string, options: ClusterOptions | (() => ClusterOptions), body: (cluster: Cluster) => Promise<void>, timeoutMs: number): void {
  let cluster: Cluster | undefined;
  afterAll(async () => {
    killTrackedProcesses();
    await cluster?.stop();
  }, STOP_TIMEOUT_MS);
  it(
    name,
    withClusterOutput(
      () => cluster,
      async () => {
        cluster = await startCluster(typeof options === 'function' ? options() : options);
        await body(cluster);
      },
    ),
    timeoutMs,
  );
}

/** What {@link useCluster} answers. */
export interface SharedCluster {
  /** The cluster, once `beforeAll` started it. */
  readonly cluster: Cluster;
  /** A test on the shared cluster. */
  scenario(name: string, body: (cluster: Cluster) => Promise<void>, timeoutMs?: number): void;
}

/**
 * A cluster shared by the tests of the enclosing block: started in `beforeAll` (then `setup`
 * runs on it), stopped in `afterAll`; `scenario` tests get it and carry its output on failure.
 * `options` may be a function, for options read when the block runs (e.g. a broker's URLs).
 */
export function useCluster(options: ClusterOptions | (() => ClusterOptions), setup?: (cluster: Cluster) => Promise<void>, defaultTimeoutMs = 60_000): SharedCluster {
  let cluster: Cluster | undefined;
  const started = (): Cluster => {
    if (!cluster) throw new Error('the shared cluster did not start (see the beforeAll failure)');
    return cluster;
  };
  beforeAll(async () => {
    cluster = await startCluster(typeof options === 'function' ? options() : options);
    await setup?.(cluster);
  }, START_TIMEOUT_MS);
  afterAll(async () => {
    killTrackedProcesses();
    await cluster?.stop();
  }, STOP_TIMEOUT_MS);
  return {
    get cluster() {
      return started();
    },
    scenario(name, body, timeoutMs = defaultTimeoutMs) {
      it(name, withClusterOutput(() => cluster, () => body(started())), timeoutMs);
    },
  };
}

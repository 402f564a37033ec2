import { clusterAuthorization } from '@shipdeck/auth';
import { ConfigError } from '@shipdeck/errors';
import { retryUntil } from '@shipdeck/lifecycle';
import { Logger } from '@shipdeck/logging';

/**
 * Asks the masters (through `-api`) whether they accept external workers: a master running its
 * in-process worker refuses them. Waits while the API is unreachable, up to `timeoutMs`.
 */
export async function checkMasterAcceptsWorkers(
  api: string,
  clusterSecret: string | null,
  logger: Logger,
  timeoutMs = 60_000,
): Promise<void> {
  const info = await retryUntil(
    `the master API at ${api} (-api)`,
    async () => {
      // Workers prove they belong to the cluster with its secret (never sent itself: an HMAC of the time).
      const headers: Record<string, string> = clusterSecret ? { authorization: clusterAuthorization(clusterSecret) } : {};
      const response = await fetch(`${api}/api/v1/server/info`, { headers, signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`HTTP ${response.status} from ${api}/api/v1/server/info`);
      return (await response.json()) as { inProcessWorker?: boolean };
    },
    { timeoutMs, logger, retryable: () => true },
  ).catch((error: unknown) => {
    throw new ConfigError(`cannot reach the master API at ${api} (-api): ${String(error)}; check the URL and that a master runs`);
  });
  if (info.inProcessWorker) {
    throw new ConfigError(
      `the master at ${api} runs with task.inProcessWorker: true and refuses external workers; set task.inProcessWorker: false on every master`,
    );
  }
}

import { ConfigError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';

/**
 * Asks the masters (through `-api`) whether they accept external workers: a master running its
 * in-process worker refuses them. Retries while the API is unreachable, up to `timeoutMs`.
 */
export async function checkMasterAcceptsWorkers(api: string, logger: Logger, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 250;
  for (;;) {
    try {
      const response = await fetch(`${api}/api/v1/server/info`, { signal: AbortSignal.timeout(5000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const info = (await response.json()) as { inProcessWorker?: boolean; id?: string };
      if (info.inProcessWorker) {
        throw new ConfigError(
          `the master at ${api} runs with task.inProcessWorker: true and refuses external workers; set task.inProcessWorker: false on every master`,
        );
      }
      return;
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      if (Date.now() > deadline) {
        throw new ConfigError(`cannot reach the master API at ${api} (-api): ${String(error)}; check the URL and that a master runs`);
      }
      logger.warn(`master API at ${api} not reachable yet; retrying`, { error: String(error) });
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

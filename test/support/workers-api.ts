/**
 * The workers as the masters' REST API shows them (spec §4, §6): listings, waiting for a state,
 * server info and a worker's own health port. Views are the product's types.
 */
import type { ServerInfo, WorkerState, WorkerView } from '@shipdeck/master-services';
import { pollUntil } from './poll';
import { Endpoint, clientOf, expectStatus, listAll } from './rest-client';

/** `GET /workers` of one master. */
export async function listWorkers(endpoint: Endpoint): Promise<WorkerView[]> {
  return listAll<WorkerView>(endpoint, '/workers');
}

/**
 * Polls `GET /workers` of a master until the worker is listed in one of `states` (`ABSENT`: not
 * listed); answers its row (undefined for ABSENT). Fails at the deadline with the last listing.
 */
export async function waitForWorker(
  endpoint: Endpoint,
  id: string,
  states: (WorkerState | 'ABSENT')[],
  timeoutMs = 15_000,
): Promise<WorkerView | undefined> {
  let rows: WorkerView[] = [];
  let row: WorkerView | undefined;
  await pollUntil(
    async () => {
      rows = await listWorkers(endpoint);
      row = rows.find((w) => w.id === id);
      return states.includes(row?.state ?? 'ABSENT');
    },
    {
      timeoutMs,
      describe: () =>
        `${clientOf(endpoint).baseUrl} did not list worker ${id} as ${states.join(' or ')} within ${timeoutMs} ms; it lists ${JSON.stringify(rows)}`,
    },
  );
  return row;
}

/** `GET /server/info` of one master. */
export async function serverInfo(endpoint: Endpoint): Promise<ServerInfo> {
  const client = clientOf(endpoint);
  return expectStatus(await client.get<ServerInfo>('/server/info'), 200, `GET ${client.baseUrl}/api/v1/server/info: `);
}

/** What a worker's own health port answers. */
export interface WorkerHealth {
  status: string;
  workerId: string;
  state: string;
}

/** Waits until a worker's health port answers, found from its address as a master lists it. */
export async function workerHealth(endpoint: Endpoint, workerId: string, timeoutMs = 10_000): Promise<WorkerHealth> {
  let health: WorkerHealth | undefined;
  let last = 'nothing';
  await pollUntil(
    async () => {
      const worker = (await listWorkers(endpoint)).find((w) => w.id === workerId);
      if (!worker) {
        last = `GET /workers does not list ${workerId}`;
        return false;
      }
      const port = worker.address.split(':').pop();
      try {
        const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) });
        last = `HTTP ${response.status}`;
        if (response.status !== 200) return false;
        health = (await response.json()) as WorkerHealth;
        return health.workerId === workerId;
      } catch (error) {
        last = String((error as Error).cause ?? error);
        return false;
      }
    },
    { timeoutMs, describe: () => `worker ${workerId}: health did not answer within ${timeoutMs} ms (last: ${last})` },
  );
  return health as WorkerHealth;
}

/**
 * `log.format: json` (issue 15) on a real master of the embedded default: every line it writes
 * is one JSON object with timestamp, level, component and message; a request's access line
 * carries the X-Request-Id the client sent, and the lines of a task's execution its task id,
 * step path and worker id.
 */
import { randomUUID } from 'node:crypto';
import { StandaloneMaster, cleanupAllMasters, startMaster } from '../support/master-process';
import { createDeployment, importCommands, localEnvironments, startTask } from '../support/rest-actions';
import { Api, api, expectStatus, request, waitForTask } from '../support/rest-client';
import { pollUntil } from '../support/poll';

let master: StandaloneMaster;
let client: Api;

beforeAll(async () => {
  master = await startMaster({ env: { SHIPDECK_LOG_FORMAT: 'json', SHIPDECK_LOG_LEVEL: 'debug' } });
  client = api(master.url);
}, 60_000);

afterAll(() => cleanupAllMasters());

/** Every line of the master's output so far, parsed; fails naming the first line that is not a JSON object. */
function entries(): Record<string, unknown>[] {
  return master
    .output()
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('---- '))
    .map((line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line.replace(/^\[err\] /, ''));
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`not a JSON object: ${line}`);
      return parsed as Record<string, unknown>;
    });
}

it('writes only JSON lines: the access line names the X-Request-Id sent, execution lines the task, step and worker', async () => {
  const requestId = `json-logs-${randomUUID()}`;
  const res = await request('GET', `${master.url}/api/v1/tasks`, undefined, { headers: { 'x-request-id': requestId } });
  expectStatus(res, 200);
  expect(res.headers.get('x-request-id')).toBe(requestId);

  await localEnvironments(client, 'local-1', ['dev']);
  await importCommands(client, 'json-logs-app', [['hello', 'echo "hello\\tworld"']]);
  const id = await createDeployment(client, 'json-logs-app', '1.0.0', 'dev');
  await startTask(client, id);
  await waitForTask(client, id, ['EXECUTED']);

  let access: Record<string, unknown> | undefined;
  let execution: Record<string, unknown>[] = [];
  await pollUntil(
    () => {
      const all = entries();
      access = all.find((e) => e['requestId'] === requestId);
      execution = all.filter((e) => e['taskId'] === id);
      return access !== undefined && execution.some((e) => e['stepPath'] === '1-1-1' && e['workerId'] !== undefined);
    },
    { timeoutMs: 10_000, describe: () => `no access line with ${requestId} or no execution line of task ${id} in:\n${master.output()}` },
  );
  for (const entry of entries()) {
    expect(new Date(String(entry['timestamp'])).toISOString()).toBe(entry['timestamp']);
    expect(typeof entry['level']).toBe('string');
    expect(typeof entry['message']).toBe('string');
    expect(entry['component']).toBe('master');
  }
  expect(access).toMatchObject({ method: 'GET', url: '/api/v1/tasks', status: 200, requestId });
  expect(String(access!['message'])).toContain('GET /api/v1/tasks 200');
}, 60_000);

import { AddressInfo } from 'node:net';
import { Server, createServer } from 'node:http';
import { stepContext, waitFor } from '../../testing/step-context';
import { createRegistry } from '../loader';

const registry = createRegistry();
const check = registry.ciType('http.Check');

describe('http.Check', () => {
  let server: Server;
  let url: string;
  /** Statuses the server answers, one per request; the last one repeats. */
  let statuses: number[];
  let requests: number;

  beforeEach(async () => {
    requests = 0;
    statuses = [200];
    server = createServer((_req, res) => {
      const status = statuses[Math.min(requests, statuses.length - 1)];
      requests++;
      res.writeHead(status).end('body');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
  });

  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  /** Runs a check on a host that allows loopback addresses (the test server's), or as `hostProperties` say. */
  const run = (properties: Record<string, unknown>, operation = 'CREATE', hostProperties: Record<string, unknown> = { httpCheckAllow: ['loopback'] }) => {
    const ctx = stepContext('http.Check', operation, properties, '/tmp', hostProperties);
    return { ctx, done: registry.executorFor('http.Check').execute(ctx) };
  };

  it('succeeds at the first answer with the expected status', async () => {
    const { ctx, done } = run({ url });
    await done;
    expect(requests).toBe(1);
    expect(ctx.output()).toBe(`attempt 1/6: GET ${url} → 200\n`);
  });

  it('retries until the expected status comes', async () => {
    statuses = [503, 503, 204];
    const { ctx, done } = run({ url, expectStatus: 204, retries: 3, retryDelay: '10ms' });
    await done;
    expect(requests).toBe(3);
    expect(ctx.output().trim().split('\n')).toEqual([
      `attempt 1/4: GET ${url} → 503`,
      `attempt 2/4: GET ${url} → 503`,
      `attempt 3/4: GET ${url} → 204`,
    ]);
  });

  it('fails after the last retry, naming the last answer', async () => {
    statuses = [500];
    const { done } = run({ url, retries: 2, retryDelay: '1ms' });
    await expect(done).rejects.toThrow(`${url} did not answer 200 in 3 attempt(s); last: 500`);
    expect(requests).toBe(3);
  });

  it('reports a connection failure as an attempt', async () => {
    const closed = url;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    server = createServer();
    server.listen(0);
    const { ctx, done } = run({ url: closed, retries: 0 });
    await expect(done).rejects.toThrow(/did not answer 200 in 1 attempt/);
    expect(ctx.output()).toMatch(/attempt 1\/1: GET .* → fetch failed: .*ECONNREFUSED/);
  });

  it('gives up an attempt after the per-try timeout', async () => {
    server.removeAllListeners('request');
    server.on('request', () => requests++);
    const { ctx, done } = run({ url, retries: 0, timeout: '100ms' });
    await expect(done).rejects.toThrow(/last: no answer within 100 ms/);
    expect(ctx.output()).toContain('no answer within 100 ms');
  });

  it('stops waiting at once when the task is aborted', async () => {
    statuses = [503];
    const { ctx, done } = run({ url, retryDelay: '1h' });
    const failed = done.catch((error: Error) => error);
    await waitFor(() => ctx.output().includes('attempt 1/6'), 'the first attempt');
    const abortedAt = Date.now();
    ctx.controller.abort();
    expect(await failed).toEqual(new Error('aborted'));
    expect(Date.now() - abortedAt).toBeLessThan(1_000);
    expect(requests).toBe(1);
  });

  it('runs on CREATE and MODIFY only, with default order 90', () => {
    const subject = { deployable: 'smoke', host: 'local-1', properties: { url } };
    expect(check.describeStep('CREATE', subject)).toBe('Create smoke on local-1');
    expect(check.describeStep('MODIFY', subject)).toBe('Modify smoke on local-1');
    expect(check.describeStep('DESTROY', subject)).toBeUndefined();
    expect(check.defaultOrder).toBe(90);
  });

  it('validates its properties', () => {
    expect(check.validate({ url: 'http://localhost:{{PORT}}/health', expectStatus: '{{STATUS}}' }, 'd')).toEqual([]);
    expect(check.validate({ url: 'ftp://x', expectStatus: 99, retries: 1.5, retryDelay: '1 fortnight' }, 'deployables[3]')).toEqual([
      { field: 'deployables[3].url', message: 'must be an http or https URL' },
      { field: 'deployables[3].expectStatus', message: 'must be from 100 to 599, got 99' },
      { field: 'deployables[3].retries', message: 'must be an integer, got number 1.5' },
      {
        field: 'deployables[3].retryDelay',
        message: 'must be a duration like 300s, 5m, 2h or a number of seconds, got "1 fortnight"',
      },
    ]);
    expect(check.validate({}, 'd')).toEqual([{ field: 'd.url', message: 'is required' }]);
  });

  describe('addresses it refuses (issue 9)', () => {
    it.each([
      ['127.0.0.1', 'loopback'],
      ['[::1]', 'loopback'],
      ['localhost', 'loopback'],
      ['169.254.169.254', 'metadata'],
      ['[fe80::1]', 'link-local'],
      ['169.254.10.10', 'link-local'],
      ['0.0.0.0', 'unspecified'],
      ['[::ffff:127.0.0.1]', 'loopback'],
    ])('refuses %s (%s) by default, at once and without retries', async (host, kind) => {
      const { ctx, done } = run({ url: `http://${host}:9/x`, retries: 3, retryDelay: '1h' }, 'CREATE', {});
      await expect(done).rejects.toThrow(`is a ${kind} address`);
      expect(ctx.output()).toBe('');
      expect(requests).toBe(0);
    });

    it('refuses metadata addresses even where link-local ones are allowed', async () => {
      const { done } = run({ url: 'http://169.254.169.254/latest/meta-data/' }, 'CREATE', { httpCheckAllow: ['link-local', 'loopback'] });
      await expect(done).rejects.toThrow('is a metadata address');
    });

    it('checks every redirect: follows an allowed one, refuses one to a forbidden address', async () => {
      server.removeAllListeners('request');
      server.on('request', (req, res) => {
        requests++;
        if (req.url === '/start') res.writeHead(302, { location: '/health' }).end();
        else if (req.url === '/metadata') res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
        else res.writeHead(200).end();
      });
      const base = url.replace('/health', '');
      await run({ url: `${base}/start` }).done;
      expect(requests).toBe(2);
      await expect(run({ url: `${base}/metadata`, retries: 0 }).done).rejects.toThrow('169.254.169.254 is a metadata address');
      expect(requests).toBe(3);
    });

    it('refuses a host property naming an unknown kind', async () => {
      await expect(run({ url }, 'CREATE', { httpCheckAllow: ['everything'] }).done).rejects.toThrow('httpCheckAllow may list only');
    });
  });
});

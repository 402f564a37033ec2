import { useCliHarness } from '../test-support/cli-harness';
import { page, startFakeMaster } from '../test-support/fake-master';
import { runCli } from './run-cli';

/*
 * The CLI in-process against a fake master (see ../test-support/cli-harness.ts). Which server the
 * CLI talks to, what it says when it cannot reach it, and its usage, help and version.
 */

const cli = useCliHarness();

describe('server, usage and connection', () => {
  it('takes the server from SHIPDECK_SERVER, and --server over it', async () => {
    const m = await cli.serve(() => page([]));
    expect(await cli.run(['hosts', 'list'], { SHIPDECK_SERVER: `${m.url}/` })).toBe(0);
    expect(await cli.run(['--server', m.url, 'hosts', 'list'], { SHIPDECK_SERVER: 'http://127.0.0.1:9' })).toBe(0);
    expect(m.requests).toHaveLength(2);
  });

  it('exits 2 with advice when nothing listens', async () => {
    const m = await startFakeMaster(() => undefined);
    const url = m.url;
    await m.close();
    expect(await cli.run(['--server', url, 'tasks', 'list'])).toBe(2);
    expect(cli.stderr.lines).toEqual([
      `error: cannot reach Shipdeck at ${url} (from --server): connect ECONNREFUSED ${url.replace('http://', '')}`,
      `  is a master running at ${url}?`,
      '  to use another master, pass --server URL or set SHIPDECK_SERVER=URL',
    ]);
  });

  it('defaults to http://localhost:4516, and says more when the failure is not a refusal', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }) });
    const fetchSpy = jest.spyOn(globalThis, 'fetch').mockRejectedValue(refused);
    try {
      expect(await runCli(['hosts', 'list'], { stdout: cli.stdout, stderr: cli.stderr, env: {} })).toBe(2);
      expect(fetchSpy.mock.calls[0][0]).toBe('http://localhost:4516/api/v1/hosts');
      expect(cli.stderr.lines).toEqual([
        'error: cannot reach Shipdeck at http://localhost:4516 (the default server): getaddrinfo EAI_AGAIN',
        '  is a master running there? Start one with: npx shipdeck master (or npm start)',
        '  to use another master, pass --server URL or set SHIPDECK_SERVER=URL',
      ]);
    } finally {
      fetchSpy.mockRestore();
    }
  });

  it.each([
    [['frobnicate'], 'error: unknown command frobnicate'],
    [['improt', 'x.yaml'], 'error: unknown command improt; did you mean import?'],
    [['tasks', 'list', '--bogus'], "error: unknown option '--bogus'"],
    [['--server', 'not a url', 'tasks', 'list'], 'error: --server must be a URL'],
    [['--server', 'ftp://x', 'tasks', 'list'], 'error: --server must be an http:// or https:// URL'],
    [[], 'error: no command given'],
  ])('exits 64 with usage on stderr for %j', async (argv, message) => {
    expect(await runCli(argv, { stdout: cli.stdout, stderr: cli.stderr, env: {} })).toBe(64);
    expect(cli.stderr.text.startsWith(message)).toBe(true);
    expect(cli.stderr.text).toContain('usage:');
    expect(cli.stdout.text).toBe('');
  });

  it('prints help on stdout', async () => {
    expect(await runCli(['help'], { stdout: cli.stdout, stderr: cli.stderr, env: {} })).toBe(0);
    expect(cli.stdout.text).toContain('shipdeck workers restore-ghost-tasks');
    expect(cli.stderr.text).toBe('');
    cli.stdout.text = '';
    expect(await runCli(['deploy', '--help'], { stdout: cli.stdout, stderr: cli.stderr, env: {} })).toBe(0);
    expect(cli.stdout.text).toMatch(/^usage:\n  shipdeck deploy APP VERSION ENV/);
    cli.stdout.text = '';
    expect(await runCli(['help', 'worker'], { stdout: cli.stdout, stderr: cli.stderr, env: {} })).toBe(0);
    expect(cli.stdout.text).toMatch(/^usage: shipdeck worker -master HOST:PORT/);
  });

  it('prints its version', async () => {
    expect(await runCli(['--version'], { stdout: cli.stdout, stderr: cli.stderr, env: {}, version: '1.2.3' })).toBe(0);
    expect(cli.stdout.text).toBe('shipdeck 1.2.3\n');
  });
});

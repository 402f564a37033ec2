import { Readable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useCliHarness } from '../test-support/cli-harness';
import { is, json, page } from '../test-support/fake-master';
import { runCli } from './run-cli';

/*
 * The CLI in-process against a fake master (see ../test-support/cli-harness.ts). The commands that
 * fill the catalog: import, hosts and environments.
 */

const cli = useCliHarness();

describe('import', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipdeck-cli-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['petclinic.yaml', 'application: petclinic\nversion: "1.0.0"\n', 'application/yaml'],
    ['petclinic.yml', 'application: petclinic\nversion: "1.0.0"\n', 'application/yaml'],
    ['petclinic.JSON', '{"application":"petclinic","version":"1.0.0"}', 'application/json'],
  ])('posts %s as is with its media type', async (name, content, type) => {
    const file = join(dir, name);
    await writeFile(file, content);
    await cli.serve((req) => (is(req, 'POST', '/api/v1/packages') ? json({ application: 'petclinic', version: '1.0.0', deployables: [] }, 201) : undefined));
    expect(await cli.run(['import', file])).toBe(0);
    expect(cli.stdout.text).toBe('imported petclinic 1.0.0\n');
    expect(cli.master.requests[0].headers['content-type']).toBe(type);
    expect(cli.master.requests[0].body).toBe(content);
  });

  it('prints the validation details of a refused manifest', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\n');
    await cli.serve(() =>
      json(
        {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'invalid manifest',
            details: [
              { field: 'application', message: 'is required' },
              { field: 'deployables[0].type', message: 'unknown CI type foo' },
            ],
          },
        },
        400,
      ),
    );
    expect(await cli.run(['import', file])).toBe(1);
    expect(cli.stderr.lines).toEqual([
      'error: VALIDATION_FAILED: invalid manifest',
      '  application: is required',
      '  deployables[0].type: unknown CI type foo',
    ]);
    expect(cli.stdout.text).toBe('');
  });

  it('says when the file cannot be read', async () => {
    expect(await cli.run(['--server', 'http://127.0.0.1:9', 'import', join(dir, 'missing.yaml')])).toBe(1);
    expect(cli.stderr.text).toMatch(/^error: cannot read .*missing\.yaml: ENOENT/);
  });
});

describe('hosts and environments', () => {
  it('puts a host, telling created from updated', async () => {
    let exists = false;
    await cli.serve((req) => {
      const status = exists ? 200 : 201;
      exists = true;
      return json(JSON.parse(req.body), status);
    });
    expect(await cli.run(['hosts', 'put', 'web1', '--tag', 'web', '--tag', 'db'])).toBe(0);
    expect(await cli.run(['hosts', 'put', 'web1', '--type', 'local'])).toBe(0);
    expect(await cli.run(['hosts', 'put', 'web1', '--allowed-root', '/opt/a', '--allowed-root', '/srv'])).toBe(0);
    expect(cli.stdout.lines).toEqual(['host web1 created', 'host web1 updated', 'host web1 updated']);
    expect(cli.master.requests.map((r) => [r.method, r.url, JSON.parse(r.body)])).toEqual([
      ['PUT', '/api/v1/hosts/web1', { type: 'local', tags: ['web', 'db'] }],
      ['PUT', '/api/v1/hosts/web1', { type: 'local', tags: [] }],
      ['PUT', '/api/v1/hosts/web1', { type: 'local', tags: [], properties: { allowedRoots: ['/opt/a', '/srv'] } }],
    ]);
  });

  it('lists hosts', async () => {
    await cli.serve(() => page([{ name: 'local', type: 'local', tags: ['web', 'db'], properties: {} }]));
    expect(await cli.run(['hosts', 'list'])).toBe(0);
    expect(cli.stdout.lines).toEqual(['NAME   TYPE   TAGS', 'local  local  web,db']);
  });

  it('puts an environment with its dictionary', async () => {
    await cli.serve((req) => json({ name: 'dev', ...JSON.parse(req.body) }, 201));
    expect(await cli.run(['environments', 'put', 'dev', '--host', 'a', '--host', 'b', '--set', 'K=V', '--set', 'URL=http://x/?a=b', '--set', 'EMPTY='])).toBe(0);
    expect(JSON.parse(cli.master.requests[0].body)).toEqual({ hosts: ['a', 'b'], dictionary: { K: 'V', URL: 'http://x/?a=b', EMPTY: '' } });
    expect(cli.stdout.text).toBe('environment dev created\n');
  });

  it.each([
    [['environments', 'put', 'dev'], /needs at least one --host/],
    [['environments', 'put', 'dev', '--host', 'a', '--set', 'NOEQUALS'], /--set expects KEY=VALUE/],
  ])('refuses %j with a usage error', async (argv, message) => {
    await cli.serve(() => undefined);
    expect(await cli.run(argv)).toBe(64);
    expect(cli.stderr.text).toMatch(message);
    expect(cli.stderr.text).toContain('shipdeck environments put NAME --host HOST...');
    expect(cli.master.requests).toEqual([]);
  });

  it('lists environments', async () => {
    await cli.serve(() => page([{ name: 'dev', hosts: ['a', 'b'], dictionary: { K: 'V' }, secrets: { PW: '******' } }]));
    expect(await cli.run(['environments', 'list'])).toBe(0);
    expect(cli.stdout.lines).toEqual(['NAME  HOSTS  DICTIONARY  SECRETS', 'dev   a,b    K           PW']);
  });

  it('puts secrets given inline, read from standard input, and kept as stored', async () => {
    await cli.serve((req) =>
      req.method === 'GET'
        ? json({ name: 'dev', hosts: ['a'], dictionary: {}, secrets: { OLD: '******', PW: '******' } })
        : json({ name: 'dev' }, 200),
    );
    const stdin = Object.assign(Readable.from(['from-stdin\n']), { isTTY: false });
    const argv = ['--server', cli.master.url, 'environments', 'put', 'dev', '--host', 'a', '--secret', 'PW=inline', '--secret', 'TOKEN', '--keep-secrets'];
    expect(await runCli(argv, { stdout: cli.stdout, stderr: cli.stderr, env: {}, stdin })).toBe(0);
    const put = cli.master.requests.find((r) => r.method === 'PUT')!;
    expect(JSON.parse(put.body)).toEqual({ hosts: ['a'], dictionary: {}, secrets: { PW: 'inline', TOKEN: 'from-stdin', OLD: '******' } });
    expect(cli.stdout.text + cli.stderr.text).not.toContain('from-stdin');
  });
});

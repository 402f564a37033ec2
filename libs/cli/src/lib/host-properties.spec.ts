import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { FakeMaster, FakeRoutes, Sink, startFakeMaster } from '../test-support/fake-master';
import { runCli } from './run-cli';

let master: FakeMaster;
let stdout: Sink;
let stderr: Sink;
let dir: string;

beforeEach(async () => {
  stdout = new Sink();
  stderr = new Sink();
  dir = await mkdtemp(join(tmpdir(), 'shipdeck-cli-hosts-'));
});

afterEach(async () => {
  await master?.close();
  master = undefined as unknown as FakeMaster;
  await rm(dir, { recursive: true, force: true });
});

const echo: FakeRoutes = (req) => (req.method === 'PUT' ? { status: 201, json: JSON.parse(req.body) } : undefined);

async function cli(argv: string[], routes: FakeRoutes, stdin?: string): Promise<number> {
  await master?.close();
  master = await startFakeMaster(routes);
  const input = stdin === undefined ? undefined : Readable.from([stdin]);
  return runCli(['--server', master.url, ...argv], { stdout, stderr, env: {}, stdin: input, retryDelayMs: 1 });
}

const sentBody = () => JSON.parse(master.requests.find((r) => r.method === 'PUT')!.body) as Record<string, unknown>;

describe('hosts put --type ssh', () => {
  it('sends every ssh flag as its host property, numbers as numbers', async () => {
    const code = await cli(
      [
        'hosts', 'put', 'web-1', '--type', 'ssh', '--address', '10.0.0.21', '--port', '2222', '--username', 'deploy',
        '--identity-file', '/etc/shipdeck/id_ed25519', '--host-key', 'SHA256:abc', '--sudo', 'root', '--connect-timeout', '5s',
        '--command-timeout', '10m', '--max-connections', '2', '--allowed-root', '/opt/app', '--property', 'idleTimeout=30s',
      ],
      echo,
    );
    expect({ code, err: stderr.lines }).toEqual({ code: 0, err: [] });
    expect(sentBody()).toEqual({
      type: 'ssh',
      tags: [],
      properties: {
        address: '10.0.0.21', port: 2222, username: 'deploy', privateKeyPath: '/etc/shipdeck/id_ed25519', hostKeyFingerprint: 'SHA256:abc',
        sudo: 'root', connectTimeout: '5s', commandTimeout: '10m', maxConnections: 2, allowedRoots: ['/opt/app'], idleTimeout: '30s',
      },
    });
    expect(stdout.lines).toEqual(['host web-1 created']);
  });

  it('reads the password from standard input and a private key from a local file; never from the command line', async () => {
    const keyFile = join(dir, 'id');
    await writeFile(keyFile, '-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n');
    expect(await cli(['hosts', 'put', 'h', '--type', 'ssh', '--password-stdin', '--private-key-file', keyFile], echo, 's3cret pass\nignored\n')).toBe(0);
    expect(sentBody()['properties']).toEqual({ password: 's3cret pass', privateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n' });

    stderr = new Sink();
    expect(await cli(['hosts', 'put', 'h', '--type', 'ssh', '--property', 'password=hunter2'], echo)).toBe(1);
    expect(stderr.text).toContain('password is a secret: give it with --password-stdin, not on the command line');
    expect(master.requests).toEqual([]);
  });

  it('copies the endpoint of an ssh host named by --jump-host, without secrets', async () => {
    const bastion = {
      name: 'bastion', type: 'ssh', tags: [],
      properties: { address: '10.0.0.1', username: 'jump', privateKeyPath: '/k', hostKeyFingerprint: 'SHA256:j', sudo: 'root', maxConnections: 2 },
    };
    const routes: FakeRoutes = (req) => (req.method === 'GET' && req.url === '/api/v1/hosts/bastion' ? { json: bastion } : echo(req));
    expect(await cli(['hosts', 'put', 'web-1', '--type', 'ssh', '--jump-host', 'bastion'], routes)).toBe(0);
    expect(sentBody()['properties']).toEqual({
      jumpHost: { address: '10.0.0.1', username: 'jump', privateKeyPath: '/k', hostKeyFingerprint: 'SHA256:j' },
    });
  });

  it('refuses a port that is not a number before sending anything', async () => {
    expect(await cli(['hosts', 'put', 'h', '--type', 'ssh', '--port', '22x'], echo)).toBe(1);
    expect(stderr.text).toContain('--port must be a whole number, got "22x"');
    expect(master.requests).toEqual([]);
  });
});

describe('hosts show, control and trust-host-key', () => {
  it('shows a host with its properties as the master answers them', async () => {
    const host = { name: 'web-1', type: 'ssh', tags: ['web'], properties: { address: '10.0.0.21', password: '********', allowedRoots: ['/opt'] } };
    expect(await cli(['hosts', 'show', 'web-1'], () => ({ json: host }))).toBe(0);
    expect(stdout.lines).toEqual([
      'name:       web-1', 'type:       ssh', 'tags:       web', 'properties:',
      '  address: 10.0.0.21', '  allowedRoots: ["/opt"]', '  password: ********',
    ]);
  });

  it('creates and starts a control task with its parameters', async () => {
    const view = { id: 'c1', state: 'QUEUED', steps: [] };
    const routes: FakeRoutes = (req) =>
      req.url === '/api/v1/control-tasks' ? { status: 201, json: { taskId: 'c1', task: view } } : undefined;
    const controlBodies = () => master.requests.filter((r) => r.url === '/api/v1/control-tasks').map((r) => JSON.parse(r.body) as unknown);
    expect(await cli(['control', 'web-1', 'checkConnection', '--param', 'verbose=yes'], routes)).toBe(0);
    // One request: created and started together (`start: true`).
    expect(controlBodies()).toEqual([{ target: 'web-1', control: 'checkConnection', parameters: { verbose: 'yes' }, start: true }]);
    expect(master.requests.map((r) => `${r.method} ${r.url}`)).toEqual(['POST /api/v1/control-tasks']);
    // trust-host-key waits for the task: its event stream says it ended DONE.
    const done: FakeRoutes = (req) =>
      req.url === '/api/v1/tasks/c1/events'
        ? { events: [{ id: '1', event: 'state', data: { state: 'DONE' } }] }
        : req.url === '/api/v1/tasks/c1'
          ? { json: { ...view, state: 'DONE' } }
          : routes(req);
    expect(await cli(['hosts', 'trust-host-key', 'web-1', '--host-key', 'SHA256:k', '--json'], done)).toBe(0);
    expect(controlBodies()).toEqual([{ target: 'web-1', control: 'trust-host-key', parameters: { fingerprint: 'SHA256:k' }, start: true }]);
  });
});

/**
 * The real `shipdeck` client binary against a real master: `login` (password from
 * SHIPDECK_PASSWORD or piped on stdin) stores a token per server in the user's config with mode
 * 0600, later commands use it unless SHIPDECK_TOKEN is set; `users`, `tokens`, `audit`; `logout`
 * revokes the token on the server and forgets it.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StandaloneMaster, cleanupAllMasters, startMaster } from '../support/master-process';
import { withOutputOf } from '../support/output-log';
import { TEST_ADMIN_PASSWORD } from '../support/credentials';
import { REPO_ROOT, ensureBundles, inheritedEnv } from '../support/shipdeck-process';
import { bearer, send } from './support';

const TEST_TIMEOUT_MS = 60_000;
const RUN_TIMEOUT_MS = 30_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/shipdeck.js ARGS…` with `input` piped to its stdin (closed after it) and only
 * the SHIPDECK_* variables in `env`; fails when it does not end within the deadline.
 */
function shipdeck(args: string[], env: Record<string, string>, input = ''): Promise<Run> {
  ensureBundles();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'bin', 'shipdeck.js'), ...args], {
      cwd: REPO_ROOT,
      env: { ...inheritedEnv(), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shipdeck ${args.join(' ')} did not end within ${RUN_TIMEOUT_MS} ms:\n${stdout}${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

/** Fails with the run's output unless it exited with `code`. */
function expectExit(run: Run, code: number): Run {
  expect({ code: run.code, output: `${run.stdout}${run.stderr}` }).toEqual({ code, output: expect.any(String) });
  return run;
}

let master: StandaloneMaster | undefined;
let server: string;
const configDirs: string[] = [];

/** A fresh XDG_CONFIG_HOME: one user's configuration. */
function newConfigHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'shipdeck-cli-config-'));
  configDirs.push(dir);
  return dir;
}

beforeAll(async () => {
  master = await startMaster();
  server = master.url;
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await cleanupAllMasters();
  for (const dir of configDirs) rmSync(dir, { recursive: true, force: true });
});

const test = (name: string, body: () => Promise<void>) => it(name, withOutputOf(() => [master], body), TEST_TIMEOUT_MS);

interface StoredFile {
  servers: Record<string, { token: string; tokenId: string; user: string; createdAt: string }>;
}

describe('shipdeck login', () => {
  test('stores a token per server (0600 file, 0700 directory) that later commands use, until logout revokes it', async () => {
    const config = newConfigHome();
    const env = { SHIPDECK_SERVER: server, XDG_CONFIG_HOME: config };

    // Before logging in: refused, with advice.
    const before = expectExit(await shipdeck(['tasks', 'list'], env), 1);
    expect(before.stderr).toMatch(/UNAUTHENTICATED/);
    expect(before.stderr).toMatch(/shipdeck login/);

    const login = expectExit(await shipdeck(['login', '--user', 'admin'], { ...env, SHIPDECK_PASSWORD: TEST_ADMIN_PASSWORD }), 0);
    expect(login.stdout).toMatch(new RegExp(`logged in to ${server} as admin`));
    expect(`${login.stdout}${login.stderr}`).not.toContain(TEST_ADMIN_PASSWORD);
    const file = join(config, 'shipdeck', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(config, 'shipdeck')).mode & 0o777).toBe(0o700);
    const stored = (JSON.parse(readFileSync(file, 'utf8')) as StoredFile).servers[server]!;
    expect(stored).toMatchObject({ user: 'admin', token: expect.any(String), tokenId: expect.any(String) });
    expect(readFileSync(file, 'utf8')).not.toContain(TEST_ADMIN_PASSWORD);

    // The stored token works, for the CLI and for anyone holding it.
    expectExit(await shipdeck(['tasks', 'list'], env), 0);
    expect((await send(server, 'GET', '/api/v1/tasks', { authorization: bearer(stored.token) })).status).toBe(200);
    const tokens = JSON.parse(expectExit(await shipdeck(['tokens', 'list', '--json'], env), 0).stdout) as { id: string; lastUsedAt: string | null }[];
    expect(tokens.find((t) => t.id === stored.tokenId)).toMatchObject({ lastUsedAt: expect.any(String) });

    // SHIPDECK_TOKEN wins over the stored token.
    const overridden = expectExit(await shipdeck(['tasks', 'list'], { ...env, SHIPDECK_TOKEN: 'sd_not-a-real-token' }), 1);
    expect(overridden.stderr).toMatch(/UNAUTHENTICATED/);

    // The token is stored for this server only.
    const elsewhere = expectExit(await shipdeck(['tasks', 'list', '--server', server.replace('127.0.0.1', 'localhost')], env), 1);
    expect(elsewhere.stderr).toMatch(/UNAUTHENTICATED/);

    const logout = expectExit(await shipdeck(['logout'], env), 0);
    expect(logout.stdout).toMatch(new RegExp(`token ${stored.tokenId} revoked`));
    expect((JSON.parse(readFileSync(file, 'utf8')) as StoredFile).servers[server]).toBeUndefined();
    expect((await send(server, 'GET', '/api/v1/tasks', { authorization: bearer(stored.token) })).status).toBe(401);
    expectExit(await shipdeck(['tasks', 'list'], env), 1);
    expect(expectExit(await shipdeck(['logout'], env), 0).stdout).toMatch(/not logged in/);
  });

  test('takes the password from stdin when it is not a terminal, refuses a wrong one and stores nothing', async () => {
    const config = newConfigHome();
    const env = { SHIPDECK_SERVER: server, XDG_CONFIG_HOME: config };
    const wrong = expectExit(await shipdeck(['login', '--user', 'admin'], env, 'not-the-password\n'), 1);
    expect(wrong.stderr).toMatch(/UNAUTHENTICATED: wrong user name or password/);
    expect(() => statSync(join(config, 'shipdeck', 'credentials.json'))).toThrow(/ENOENT/);

    expectExit(await shipdeck(['login', '--user', 'admin'], env, `${TEST_ADMIN_PASSWORD}\n`), 0);
    expectExit(await shipdeck(['tasks', 'list'], env), 0);
    // Logging in again replaces the token and revokes the one before.
    const first = (JSON.parse(readFileSync(join(config, 'shipdeck', 'credentials.json'), 'utf8')) as StoredFile).servers[server]!;
    expectExit(await shipdeck(['login', '--user', 'admin'], env, `${TEST_ADMIN_PASSWORD}\n`), 0);
    const second = (JSON.parse(readFileSync(join(config, 'shipdeck', 'credentials.json'), 'utf8')) as StoredFile).servers[server]!;
    expect(second.tokenId).not.toBe(first.tokenId);
    expect((await send(server, 'GET', '/api/v1/tasks', { authorization: bearer(first.token) })).status).toBe(401);
    expect((await send(server, 'GET', '/api/v1/tasks', { authorization: bearer(second.token) })).status).toBe(200);

    const noUser = expectExit(await shipdeck(['login'], env, ''), 1);
    expect(noUser.stderr).toMatch(/login needs --user NAME/);
    const noPassword = expectExit(await shipdeck(['login', '--user', 'admin'], env, ''), 1);
    expect(noPassword.stderr).toMatch(/no password given/);
  });
});

/**
 * Runs `shipdeck ARGS…` on a pseudo-terminal (util-linux `script`), so that it prompts as it does
 * for a person; `answers` maps each prompt (as it appears on the terminal) to what is typed there,
 * typed only once the prompt is shown. Answers everything the terminal showed.
 */
function shipdeckOnTerminal(args: string[], env: Record<string, string>, answers: [prompt: string, typed: string][]): Promise<Run> {
  ensureBundles();
  const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, join(REPO_ROOT, 'bin', 'shipdeck.js'), ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: REPO_ROOT, env: { ...inheritedEnv(), ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let shown = '';
    let next = 0;
    const onOutput = (chunk: Buffer) => {
      shown += chunk.toString();
      const pending = answers[next];
      if (pending && shown.includes(pending[0])) {
        next++;
        child.stdin.write(`${pending[1]}\r`);
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`shipdeck ${args.join(' ')} on a terminal did not end within ${RUN_TIMEOUT_MS} ms; the terminal shows:\n${shown}`));
    }, RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: shown, stderr: '' });
    });
  });
}

describe('shipdeck login on a terminal', () => {
  test('prompts for the user and, without echoing it, for the password', async () => {
    const config = newConfigHome();
    const run = await shipdeckOnTerminal(['login'], { SHIPDECK_SERVER: server, XDG_CONFIG_HOME: config }, [
      ['User: ', 'admin'],
      [`Password for admin at ${server}: `, TEST_ADMIN_PASSWORD],
    ]);
    expectExit(run, 0);
    expect(run.stdout).toMatch(/User: admin/);
    expect(run.stdout).toMatch(/logged in to .* as admin/);
    // The terminal never showed the password.
    expect(run.stdout).not.toContain(TEST_ADMIN_PASSWORD);
    expectExit(await shipdeck(['tasks', 'list'], { SHIPDECK_SERVER: server, XDG_CONFIG_HOME: config }), 0);
  });
});

describe('shipdeck users, tokens and audit', () => {
  test('an admin manages users; a viewer logs in, is refused admin commands and manages its own tokens', async () => {
    const admin = { SHIPDECK_SERVER: server, XDG_CONFIG_HOME: newConfigHome() };
    expectExit(await shipdeck(['login', '--user', 'admin'], admin, `${TEST_ADMIN_PASSWORD}\n`), 0);

    const viewerPassword = 'viewer-password-93be';
    const added = expectExit(await shipdeck(['users', 'add', 'vic', '--role', 'viewer'], admin, `${viewerPassword}\n`), 0);
    expect(added.stdout).toMatch(/user vic created \(viewer\)/);
    const deployer = expectExit(await shipdeck(['users', 'add', 'dee', '--role', 'deployer', '--env', 'dev', '--env', 'test'], admin, 'deployer-password-1\n'), 0);
    expect(deployer.stdout).toMatch(/user dee created \(deployer in dev, test\)/);
    const listed = expectExit(await shipdeck(['users', 'list'], admin), 0).stdout;
    expect(listed).toMatch(/^NAME\s+ROLE\s+ENVIRONMENTS/);
    expect(listed).toMatch(/\nvic\s+viewer\s+\*\s+no/);
    expect(listed).toMatch(/\ndee\s+deployer\s+dev,test\s+no/);
    expect(listed).not.toContain(viewerPassword);

    const viewer = { SHIPDECK_SERVER: server, XDG_CONFIG_HOME: newConfigHome() };
    expectExit(await shipdeck(['login', '--user', 'vic'], viewer, `${viewerPassword}\n`), 0);
    expectExit(await shipdeck(['tasks', 'list'], viewer), 0);
    for (const command of [['users', 'list'], ['audit'], ['users', 'remove', 'dee'], ['hosts', 'put', 'h1']]) {
      const refused = expectExit(await shipdeck(command, viewer), 1);
      expect(refused.stderr).toMatch(/FORBIDDEN: vic: role viewer does not have permission/);
    }

    // Own tokens: created (printed once, alone on stdout), listed, used, revoked.
    const created = expectExit(await shipdeck(['tokens', 'create', 'ci-job'], viewer), 0);
    const token = created.stdout.trim();
    expect(token).not.toContain('\n');
    expect(created.stderr).toMatch(/token ci-job created \(id [0-9a-f-]+\); it is shown only this once/);
    const id = /\(id ([0-9a-f-]+)\)/.exec(created.stderr)![1]!;
    const viaToken = { SHIPDECK_SERVER: server, SHIPDECK_TOKEN: token, XDG_CONFIG_HOME: newConfigHome() };
    expectExit(await shipdeck(['tasks', 'list'], viaToken), 0);
    const tokens = expectExit(await shipdeck(['tokens', 'list'], viewer), 0).stdout;
    expect(tokens).toMatch(new RegExp(`${id}\\s+ci-job\\s`));
    expect(tokens).not.toContain(token);
    expect(expectExit(await shipdeck(['tokens', 'revoke', id], viewer), 0).stdout).toMatch(new RegExp(`token ${id} \\(ci-job\\) revoked`));
    expect(expectExit(await shipdeck(['tasks', 'list'], viaToken), 1).stderr).toMatch(/UNAUTHENTICATED/);

    // The audit trail shows who did what; an admin reads it, filtered and paged.
    const audit = expectExit(await shipdeck(['audit', '--user', 'admin', '--limit', '3'], admin), 0);
    expect(audit.stdout).toMatch(/^AT\s+USER\s+ACTION\s+OBJECTS\s+OUTCOME/);
    expect(audit.stdout.trim().split('\n')).toHaveLength(4);
    expect(audit.stderr).toMatch(/more entries: shipdeck audit --cursor \d+ --limit 3/);
    const entries = JSON.parse(expectExit(await shipdeck(['audit', '--json', '--user', 'vic', '--limit', '1000'], admin), 0).stdout) as {
      items: { action: string; outcome: string; status: number | null; objectIds: Record<string, string> }[];
    };
    expect(entries.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ action: 'DELETE /api/v1/users/:name', outcome: 'denied', status: 403, objectIds: { name: 'dee' } }),
        expect.objectContaining({ action: 'DELETE /api/v1/tokens/:id', outcome: 'succeeded', status: 200, objectIds: { id } }),
        expect.objectContaining({ action: 'POST /api/v1/tokens', outcome: 'succeeded', status: 201 }),
      ]),
    );
    // Reads are not audited.
    expect(entries.items.filter((e) => e.action.startsWith('GET '))).toEqual([]);

    const removed = expectExit(await shipdeck(['users', 'remove', 'vic'], admin), 0);
    expect(removed.stdout).toMatch(/user vic removed/);
    // Removing the user ended its stored token.
    expect(expectExit(await shipdeck(['tasks', 'list'], viewer), 1).stderr).toMatch(/UNAUTHENTICATED/);
  });
});

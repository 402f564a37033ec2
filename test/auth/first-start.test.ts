/**
 * The first start of a master on an empty database: nothing is open, the `admin` user is created
 * with a generated password that is printed once on the console — not again at the next start,
 * never in a log line and never in clear in the database — or with SHIPDECK_ADMIN_PASSWORD,
 * which is then not printed at all.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StandaloneMaster, cleanupAllMasters, runMasterToExit, startMaster } from '../support/master-process';
import { withOutputOf } from '../support/output-log';
import { basic, send } from './support';

const TEST_TIMEOUT_MS = 60_000;

afterAll(async () => {
  await cleanupAllMasters();
});

/** Whether any of the master's database files (SQLite: the database, its WAL and journal) holds `text`. */
function databaseHolds(master: StandaloneMaster, text: string): boolean {
  const dir = join(master.home, 'data');
  const files = readdirSync(dir).filter((f) => f.startsWith('shipdeck.db'));
  expect(files).toContain('shipdeck.db');
  return files.some((f) => readFileSync(join(dir, f)).includes(text));
}

function occurrences(text: string, what: string): number {
  return text.split(what).length - 1;
}

describe('first start', () => {
  let master: StandaloneMaster | undefined;

  it(
    'prints a generated admin password once, and never logs or stores it in clear',
    withOutputOf(
      () => [master],
      async () => {
        // An empty SHIPDECK_ADMIN_PASSWORD is as good as none: the master generates one.
        master = await startMaster({ env: { SHIPDECK_ADMIN_PASSWORD: '' } });
        const printed = /created the user "admin" with the password: (\S+)/.exec(master.output());
        expect(printed).not.toBeNull();
        const password = printed![1]!;
        expect(password.length).toBeGreaterThanOrEqual(16);
        expect(master.output()).toContain('It is shown only this once. Log in with: npx shipdeck login --user admin');
        expect(occurrences(master.output(), password)).toBe(1);
        // The log line of the creation says who, not the password.
        expect(master.output()).toMatch(/first start: created the admin user/);

        // Nothing is open: no credentials, 401; the printed password works.
        expect((await send(master.url, 'GET', '/api/v1/tasks')).status).toBe(401);
        expect((await send(master.url, 'GET', '/api/v1/users', { authorization: basic('admin', password) })).status).toBe(200);
        expect((await send(master.url, 'GET', '/api/v1/users', { authorization: basic('admin', `${password}x`) })).status).toBe(401);

        // A login (and its audit entry, session, the scrypt hash) writes nothing of the password in clear.
        const login = await send(master.url, 'POST', '/api/v1/auth/login', { json: { username: 'admin', password } });
        expect(login.status).toBe(200);
        // (The files are read for real: the user's name is there.)
        expect(databaseHolds(master, 'admin')).toBe(true);
        expect(databaseHolds(master, password)).toBe(false);

        // The next start finds the admin and prints nothing; the password still works.
        await master.kill('SIGTERM');
        await master.restart();
        expect(occurrences(master.output(), password)).toBe(1);
        expect(occurrences(master.output(), 'created the user "admin"')).toBe(1);
        expect((await send(master.url, 'GET', '/api/v1/users', { authorization: basic('admin', password) })).status).toBe(200);
        expect(databaseHolds(master, password)).toBe(false);
      },
    ),
    TEST_TIMEOUT_MS,
  );

  it(
    'takes the password from SHIPDECK_ADMIN_PASSWORD and does not print it',
    withOutputOf(
      () => [master],
      async () => {
        const password = 'given-admin-password-4c1d';
        master = await startMaster({ env: { SHIPDECK_ADMIN_PASSWORD: password } });
        expect(master.output()).toContain('created the user "admin" with the password: (the value of SHIPDECK_ADMIN_PASSWORD)');
        expect(master.output()).not.toContain(password);
        expect((await send(master.url, 'GET', '/api/v1/users', { authorization: basic('admin', password) })).status).toBe(200);
        expect(databaseHolds(master, password)).toBe(false);
      },
    ),
    TEST_TIMEOUT_MS,
  );

  it(
    'refuses to start with an unusable SHIPDECK_ADMIN_PASSWORD, saying why',
    async () => {
      const run = await runMasterToExit({ env: { SHIPDECK_ADMIN_PASSWORD: 'short' } });
      expect(run.timedOut).toBe(false);
      expect(run.code).not.toBe(0);
      expect(`${run.stdout}${run.stderr}`).toMatch(/SHIPDECK_ADMIN_PASSWORD is not a usable password/);
    },
    TEST_TIMEOUT_MS,
  );
});

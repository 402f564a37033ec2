/**
 * End-to-end tests of the command line (spec §7, issue 14): the real `shipdeck` binary
 * (bin/shipdeck.js) against a real embedded master, its output and exit codes checked, both on a
 * terminal (a pseudo-terminal made by `script`) and with plain pipes.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { COMMANDS } from '@shipdeck/cli';
import type { TaskView } from '@shipdeck/tasks';
import { Manifest, manifestYaml } from '../support/fixtures';
import { StandaloneMaster, cleanupAllMasters, startMaster } from '../support/master-process';
import { withOutputOf } from '../support/output-log';
import { adminToken } from '../support/rest-actions';
import { listAll, waitForTask } from '../support/rest-client';
import { REPO_ROOT, freePort, inheritedEnv, runShipdeck } from '../support/shipdeck-process';

const TEST_TIMEOUT_MS = 90_000;
const BIN = join(REPO_ROOT, 'bin', 'shipdeck.js');
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `shipdeck ARGS` with pipes (not a terminal), with no SHIPDECK_* variable but the harness's and `env`. */
async function shipdeck(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const run = await runShipdeck(args, { env });
  if (run.timedOut) throw new Error(`shipdeck ${args.join(' ')} did not exit in time:\n${run.stdout}${run.stderr}`);
  return { code: run.code, stdout: run.stdout, stderr: run.stderr };
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/**
 * Runs `shipdeck ARGS` on a pseudo-terminal (util-linux `script`): stdout and stderr are the
 * terminal, so the output is both, with the terminal's CR LF line ends; the exit code is the
 * command's (`-e`).
 */
function shipdeckOnTerminal(
  args: string[],
  env: Record<string, string>,
  /** Called with everything written so far, whenever more arrives. */
  onOutput: (output: string) => void = () => undefined,
): Promise<{ code: number | null; output: string }> {
  const command = [process.execPath, BIN, ...args].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], {
      cwd: REPO_ROOT,
      env: { ...inheritedEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const more = (c: Buffer) => {
      output += c.toString();
      onOutput(output);
    };
    child.stdout.on('data', more);
    child.stderr.on('data', more);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** What a terminal shows once carriage returns and line clears are honoured: the progress line erased. */
function visible(output: string): string[] {
  return output
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((line) => line.split('\r\x1b[K').pop() ?? '')
    .filter((line) => line !== '');
}

/** A package of commands of one order, each writing `lines` lines of output a little apart. */
function chatty(application: string, names: string[], lines = 3): Manifest {
  return {
    application,
    version: '1.0.0',
    deployables: names.map((name) => ({
      name,
      type: 'cmd.Command',
      order: 50,
      create: `for i in $(seq 1 ${lines}); do echo "${name} line $i"; sleep 0.4; done`,
    })),
  };
}

afterAll(() => cleanupAllMasters());

describe('shipdeck without a master', () => {
  it('prints its version', async () => {
    expect(await shipdeck(['--version'])).toEqual({ code: 0, stdout: `shipdeck ${VERSION}\n`, stderr: '' });
  });

  it('--help on every command prints that command’s usage and exits 0', async () => {
    for (const spec of COMMANDS) {
      const run = await shipdeck([...spec.words, '--help']);
      const synopsis = ['shipdeck', ...spec.words, ...spec.args].join(' ');
      expect({ command: spec.words.join(' '), code: run.code, usage: run.stdout.includes(synopsis), stderr: run.stderr }).toEqual({
        command: spec.words.join(' '),
        code: 0,
        usage: true,
        stderr: '',
      });
    }
    const help = await shipdeck(['help', 'deploy']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage:\n {2}shipdeck deploy APP VERSION ENV \[--wait\]/);
    const group = await shipdeck(['tasks', '--help']);
    expect(group.code).toBe(0);
    expect(group.stdout).toContain('shipdeck tasks log ID PATH [--follow]');
  }, TEST_TIMEOUT_MS);

  it('master --help and worker --help print their usage and start nothing', async () => {
    const master = await shipdeck(['master', '--help'], { SHIPDECK_SERVER_PORT: String(await freePort()) });
    expect(master.code).toBe(0);
    expect(master.stdout).toMatch(/^usage: shipdeck master/);
    expect(master.stdout).not.toContain('listening');
    const worker = await shipdeck(['worker', '--help']);
    expect(worker.code).toBe(0);
    expect(worker.stdout).toMatch(/^usage: shipdeck worker -master HOST:PORT/);
  });

  it('the worker takes the --long form of its flags', async () => {
    const run = await shipdeck(['worker', '--master', '127.0.0.1:1', '--api', 'http://127.0.0.1:1', '--port', 'abc']);
    expect(run.code).not.toBe(0);
    // --port was read as the port flag (its value is refused), not as an unknown argument.
    expect(run.stderr).toContain('-port: must be an integer between 0 and 65535 (got abc)');
    expect(run.stderr).not.toContain('unknown argument');
  });

  it('a misspelled command suggests the closest one (exit 64)', async () => {
    const run = await shipdeck(['deplyo', 'petclinic', '1.0.0', 'dev']);
    expect(run.code).toBe(64);
    expect(run.stderr.split('\n')[0]).toBe('error: unknown command deplyo; did you mean deploy?');
    const sub = await shipdeck(['workers', 'lsit']);
    expect(sub.code).toBe(64);
    expect(sub.stderr.split('\n')[0]).toMatch(/^error: unknown command workers lsit; did you mean workers list\?/);
  });

  it('cannot reach a master: names the URL it tried and how to point elsewhere (exit 2)', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const fromEnv = await shipdeck(['hosts', 'list'], { SHIPDECK_SERVER: url });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^error: cannot reach Shipdeck at ${url} \\(from SHIPDECK_SERVER\\): .*ECONNREFUSED`)),
      `  is a master running at ${url}?`,
      '  to use another master, pass --server URL or set SHIPDECK_SERVER=URL',
      '',
    ]);
    const fromFlag = await shipdeck(['--server', url, 'hosts', 'list']);
    expect(fromFlag.stderr).toContain(`cannot reach Shipdeck at ${url} (from --server)`);
  });
});

describe('shipdeck against a real master', () => {
  let master: StandaloneMaster | undefined;
  let sandbox: string;
  let env: Record<string, string>;
  const e2e = (name: string, body: () => Promise<void>) => it(name, withOutputOf(() => [master], body), TEST_TIMEOUT_MS);

  /** Runs a command that must succeed; answers its stdout. */
  async function ok(args: string[]): Promise<string> {
    const run = await shipdeck(args, env);
    if (run.code !== 0) throw new Error(`shipdeck ${args.join(' ')} exited ${run.code}\n${run.stdout}${run.stderr}`);
    return run.stdout;
  }

  function writeManifest(manifest: Manifest): string {
    const file = join(sandbox, `${manifest.application}.yaml`);
    writeFileSync(file, manifestYaml(manifest));
    return file;
  }

  /** The id of the task `shipdeck deploy` (without --wait) created: its first line. */
  const createdId = (stdout: string) => /^task (\S+) created/.exec(stdout)?.[1] ?? '';

  beforeAll(async () => {
    sandbox = mkdtempSync(join(tmpdir(), 'shipdeck-cli-'));
    master = await startMaster();
    env = { SHIPDECK_SERVER: master.url, SHIPDECK_TOKEN: await adminToken(master.url) };
    await ok(['hosts', 'put', 'local-1', '--type', 'local']);
    await ok(['environments', 'put', 'dev', '--host', 'local-1']);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await master?.cleanup();
    rmSync(sandbox, { recursive: true, force: true });
  });

  e2e('without SHIPDECK_TOKEN the master refuses (401) and the CLI says how to get a token', async () => {
    const run = await shipdeck(['hosts', 'list'], { SHIPDECK_SERVER: master!.url });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('error: UNAUTHENTICATED: ');
    expect(run.stderr).toContain('log in with: shipdeck login --user NAME (or set SHIPDECK_TOKEN to an API token; see docs/security.md)');
  });

  e2e('import shows the digest; the same content again is unchanged; other content is refused', async () => {
    const file = writeManifest(chatty('plain', ['one'], 1));
    const first = await ok(['import', file]);
    expect(first).toMatch(/^imported plain 1\.0\.0 \(sha256:[0-9a-f]{64}\)\n$/);
    expect(await ok(['import', file])).toBe(first.replace('imported', 'already imported, unchanged:'));
    writeManifest(chatty('plain', ['one', 'two'], 1));
    const refused = await shipdeck(['import', file], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('error: CONFLICT: plain 1.0.0 was already imported with different content');
    expect(await ok(['applications', 'list'])).toMatch(/^APPLICATION\s+VERSIONS\nplain\s+1\.0\.0\n$/);
  });

  e2e('deploy --wait without a terminal: plain lines, step output as it arrives, no progress line', async () => {
    await ok(['import', writeManifest(chatty('piped', ['prep', 'long']))]);
    const run = await shipdeck(['deploy', 'piped', '1.0.0', 'dev', '--wait'], env);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
    expect(run.stdout).not.toMatch(/[\r\x1b]/);
    const lines = run.stdout.split('\n');
    const at = (line: string) => lines.indexOf(line);
    for (const line of ['  1-1-1  EXECUTING  Create prep on local-1', '    1-1-1 | prep line 1', '    1-1-1 | prep line 3', '  1-1-1  DONE       Create prep on local-1', '    1-1-2 | long line 3']) {
      expect({ line, found: at(line) >= 0 }).toEqual({ line, found: true });
    }
    // Declared order, and each step's output between its state lines.
    expect(at('    1-1-1 | prep line 1')).toBeGreaterThan(at('  1-1-1  EXECUTING  Create prep on local-1'));
    expect(at('  1-1-1  DONE       Create prep on local-1')).toBeGreaterThan(at('    1-1-1 | prep line 3'));
    expect(at('    1-1-2 | long line 1')).toBeGreaterThan(at('  1-1-1  DONE       Create prep on local-1'));
    expect(lines).toContain(`task ${createdId(run.stdout)} EXECUTED`);

    // A second deployment while this one is unfinished is refused, naming it.
    const again = await shipdeck(['deploy', 'piped', '1.0.0', 'dev'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`error: CONFLICT: task ${createdId(run.stdout)} (EXECUTED: Deploy piped 1.0.0 to dev) is unfinished`);
  });

  e2e('deploy --wait on a terminal: a progress line with steps done / total and elapsed time, erased at the end', async () => {
    await ok(['import', writeManifest(chatty('tty', ['first', 'second']))]);
    const run = await shipdeckOnTerminal(['deploy', 'tty', '1.0.0', 'dev', '--wait'], env);
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/\r\x1b\[K\[0\/2 steps\] task (QUEUED|EXECUTING)/);
    expect(run.output).toMatch(/\r\x1b\[K\[1\/2 steps\] task EXECUTING · 1-1-2 Create second on local-1 · 0:0\d elapsed/);
    const shown = visible(run.output);
    expect(shown).toContain('    1-1-1 | first line 2');
    expect(shown).toContain('    1-1-2 | second line 3');
    expect(shown.filter((l) => l.includes('steps]'))).toEqual([]);
    expect(shown[shown.length - 1]).toMatch(/^archive it to record the new deployed state: shipdeck tasks archive /);
  });

  e2e('tasks log --follow prints a step’s output as it arrives, on a terminal and not; ids by unique prefix', async () => {
    // The step writes its first line, then waits for the gate, which the test opens once the
    // terminal follower shows that line: it follows a running step however slowly the CLI starts.
    const gate = join(sandbox, 'follow-gate');
    await ok([
      'import',
      writeManifest({
        application: 'followed',
        version: '1.0.0',
        deployables: [
          {
            name: 'work',
            type: 'cmd.Command',
            order: 50,
            create: `echo "work line 1"; while [ ! -e ${quote(gate)} ]; do sleep 0.1; done; for i in 2 3 4; do echo "work line $i"; sleep 0.2; done`,
          },
        ],
      }),
    ]);
    const created = await ok(['deploy', 'followed', '1.0.0', 'dev']);
    const id = createdId(created);
    const prefix = id.slice(0, 8);
    // Both follow the same running step at once.
    const [piped, onTerminal] = await Promise.all([
      shipdeck(['tasks', 'log', prefix, '1-1-1', '--follow'], env),
      shipdeckOnTerminal(['tasks', 'log', prefix, '1-1-1', '--follow'], env, (output) => {
        if (output.includes('work line 1')) writeFileSync(gate, '');
      }),
    ]);
    // What was followed is the whole log, as `tasks log` prints it once the step is done.
    const log = await ok(['tasks', 'log', prefix, '1-1-1']);
    expect(log.split('\n').filter((l) => l.startsWith('work line'))).toEqual(['work line 1', 'work line 2', 'work line 3', 'work line 4']);
    expect(piped).toEqual({ code: 0, stdout: log, stderr: '' });
    expect(onTerminal.code).toBe(0);
    expect(onTerminal.output).toMatch(/\r\x1b\[Kstep 1-1-1 (PENDING|EXECUTING) · task (QUEUED|EXECUTING) · 0:0\d elapsed/);
    expect(visible(onTerminal.output)).toEqual(log.split('\n').filter((l) => l !== ''));

    await waitForTask(master!.url, id, ['EXECUTED']);
    expect(await ok(['tasks', 'archive', prefix])).toBe(`task ${id} DONE\n`);
    expect(await ok(['archive', 'list', '--application', 'followed'])).toContain(id);
  });

  e2e('an ambiguous prefix is an error listing the candidates; nothing is changed', async () => {
    const before = (await listAll<TaskView>(master!.url, '/tasks')).map((t) => [t.id, t.state]);
    // The empty prefix matches every task.
    const run = await shipdeck(['tasks', 'cancel', ''], env);
    expect(run.code).toBe(1);
    const lines = run.stderr.split('\n');
    expect(lines[0]).toBe('error: task id prefix  is ambiguous; it matches:');
    expect(lines.filter((l) => /^ {2}[0-9a-f-]{36} {2}/.test(l)).length).toBeGreaterThan(1);
    expect(lines).toContain('give more characters or the full id');
    expect((await listAll<TaskView>(master!.url, '/tasks')).map((t) => [t.id, t.state])).toEqual(before);
  });

  e2e('environments deployed, workers list and workers by name', async () => {
    const deployed = await ok(['environments', 'deployed', 'dev']);
    expect(deployed.split('\n')[0].split(/\s+/)).toEqual(['APPLICATION', 'VERSION', 'DEPLOYEDS', 'UPDATED']);
    expect(deployed).toMatch(/\nfollowed\s+1\.0\.0\s+work@local-1\s+\d{4}-/);

    const workers = await ok(['workers', 'list']);
    expect(workers.split('\n')[1]).toMatch(/^\S+\s+in-process\s+in-process\s+CONNECTED\s/);
    // The name resolves to the in-process worker, which the master then refuses to drain.
    const drain = await shipdeck(['workers', 'drain', 'in-process'], env);
    expect(drain.code).toBe(1);
    expect(drain.stderr).toContain('the in-process worker is part of the master and cannot be drained');
    const remove = await shipdeck(['workers', 'remove', 'in-process'], env);
    expect(remove.code).toBe(1);
    expect(remove.stderr).toContain('only a DISCONNECTED worker can be forgotten');
  });
});

/**
 * `npm run bench` (tools/bench) cannot rot silently: its command line is parsed as documented,
 * and a short real run (a cluster of real processes on PostgreSQL and RabbitMQ, `--rate half`:
 * a burst, then an open-loop run) ends with the one JSON line every figure of
 * docs/performance.md is read from. No timing is asserted: the machine is shared.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { BenchArgs, parseBenchArgs, USAGE, UsageError } from '../../tools/bench/args';
import { REPO_ROOT } from '../support/shipdeck-process';

const BENCH = ['-r', 'esbuild-register', join(REPO_ROOT, 'tools/bench/bench.ts')];
/** Benches still running: a failed test interrupts them, and they clean up their cluster (SIGINT). */
const running = new Set<ChildProcess>();

afterAll(async () => {
  await Promise.all(
    [...running].map((child) => {
      const closed = new Promise((resolve) => child.once('close', resolve));
      child.kill('SIGINT');
      return closed;
    }),
  );
});

function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...BENCH, ...args], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('close', () => running.delete(child));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function problems(argv: string[]): string {
  try {
    parseBenchArgs(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

describe('npm run bench: the command line', () => {
  it('applies each mode its defaults and keeps what the command line gives', () => {
    const burst: BenchArgs = parseBenchArgs([]);
    expect(burst).toMatchObject({ mode: 'burst', workers: 1, capacity: 10, tasks: 1000, step: { kind: 'noop' }, rate: null, warmup: 50, watch: 'database' });
    expect(parseBenchArgs(['--watch', 'rest']).watch).toBe('rest');
    // Attached masters' database is unknown: they are watched through REST.
    expect(parseBenchArgs(['--attach', 'http://127.0.0.1:4516']).watch).toBe('rest');
    expect(parseBenchArgs(['--scale-out'])).toMatchObject({ mode: 'scale-out', capacity: 50, step: { kind: 'sleep', ms: 200 } });
    expect(parseBenchArgs(['--capacity-test'])).toMatchObject({ workers: 1, capacity: 1000, tasks: 1000 });
    expect(parseBenchArgs(['--recovery-test', '--tasks=5'])).toMatchObject({ mode: 'recovery-test', tasks: 5, capacity: 100 });
    expect(parseBenchArgs(['--step', 'sleep:250', '--rate', '40/s', '--workers', '2'])).toMatchObject({
      step: { kind: 'sleep', ms: 250 },
      rate: 40,
      workers: 2,
      timeoutMs: (120 + 500) * 1000 + 250,
    });
    expect(parseBenchArgs(['--rate=half', '--step=shell']).rate).toBe('half');
    expect(parseBenchArgs(['--rate', '12.5']).rate).toBe(12.5);
  });

  it('names every bad argument in one error', () => {
    const text = problems(['--step', 'sleep:0', '--rate', 'fast', '--tasks', '0', '--bogus']);
    expect(text).toContain('--step: must be noop, check, shell or sleep:MS');
    expect(text).toContain('--rate: must be a number of tasks per second');
    expect(text).toContain('--tasks must be an integer of at least 1 (got 0)');
    expect(text).toContain('--bogus: unknown argument');
    expect(problems(['--scale-out', '--workers', '3'])).toContain('--workers does not go with --scale-out');
    expect(problems(['--scale-out', '--capacity-test'])).toContain('one mode at a time');
    expect(problems(['--recovery-test', '--rate', '5'])).toContain('--rate does not go with --recovery-test');
    expect(problems(['--capacity-test', '--step', 'noop'])).toContain('--step: --capacity-test needs sleep:MS steps (got noop)');
    expect(problems(['--watch', 'sse'])).toContain('--watch: must be database or rest (got sse)');
    expect(problems(['--attach', 'http://127.0.0.1:4516', '--watch', 'database'])).toContain('--watch database does not go with --attach');
    expect(problems(['--scale-out', '--broker-floor'])).toContain('--broker-floor does not go with --scale-out');
    expect(problems(['--transport', 'artemis-stomp', '--broker-floor'])).toContain('--broker-floor measures the AMQP transports only');
  });

  it('--help prints the usage; a bad argument exits 2 naming it', async () => {
    const help = await runBench(['--help']);
    expect(help).toMatchObject({ code: 0, stdout: USAGE });
    const bad = await runBench(['--step', 'nap']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--step: must be noop, check, shell or sleep:MS');
  }, 30_000);
});

describe('npm run bench: a short run', () => {
  it('--rate half --tasks 20 --broker-floor: a burst, then an open-loop run, then the broker alone at their rates; the last line of stdout is the JSON of every figure', async () => {
    const run = await runBench(['--rate', 'half', '--tasks', '20', '--warmup', '5', '--baseline-messages', '200', '--broker-floor']);
    if (run.code !== 0) throw new Error(`the bench exited ${run.code}:\n${run.stderr}\n${run.stdout}`);
    const lines = run.stdout.trimEnd().split('\n');
    const summary = JSON.parse(lines[lines.length - 1]) as Record<string, unknown> & { phases: Record<string, unknown>[] };
    expect(summary).toMatchObject({ mode: 'burst', transport: 'rabbitmq-amqp', step: 'noop', watch: 'database', masters: 1, workers: 1, tasks: 20, capacity: 10, warmup: 5 });
    expect(summary.phases.map((p) => [p.label, p.tasks, p.perWorker])).toEqual([
      ['burst', 20, { 'worker-1': 20 }],
      [expect.stringMatching(/^rate \d+(\.\d)?\/s$/), 20, { 'worker-1': 20 }],
    ]);
    const [burst, rate] = summary.phases;
    expect(rate.ratePerSec).toBeCloseTo((burst.tasksPerSec as number) / 2, 0);
    for (const phase of summary.phases) {
      for (const key of ['tasksPerSec', 'p50Ms', 'p99Ms', 'endToEndP50Ms', 'endToEndP99Ms', 'cpuMsPerTask']) {
        expect([key, typeof phase[key]]).toEqual([key, 'number']);
      }
      expect(Object.keys(phase.cpuMsPerTaskBy as object)).toEqual(['masters', 'workers', 'postgres', 'broker']);
      const kernel = phase.kernelMsPerTaskBy as Record<string, number>;
      for (const [role, ms] of Object.entries(phase.cpuMsPerTaskBy as Record<string, number>)) expect(kernel[role]).toBeLessThanOrEqual(ms);
    }
    expect(summary.brokerMsgsPerSec).toEqual(expect.any(Number));
    expect(summary.brokerBaselineCpuMsPerMessage).toEqual(expect.any(Number));
    // The broker alone, once per phase, at that phase's rate and with its number of messages.
    expect(summary.brokerFloor).toEqual(
      summary.phases.map((p) => ({
        label: p.label,
        ratePerSec: p.tasksPerSec,
        messages: 20,
        brokerMsPerMessage: expect.any(Number),
        clusterBrokerMsPerTask: (p.cpuMsPerTaskBy as { broker: number }).broker,
      })),
    );
    expect(summary.ratioToBroker).toEqual(expect.any(Number));
    expect(Object.keys(summary.idleRssMb as object).sort()).toEqual(['master-1', 'worker-1']);
    expect(Object.keys(summary.peakRssMb as object).sort()).toEqual(['master-1', 'worker-1']);
    // The human report comes first, with the table against the targets.
    expect(run.stdout).toContain("Against issue 16's targets");
    expect(run.stdout).toMatch(/QUEUED → claimed p99 \(rate/);
    expect(run.stdout).toMatch(/broker floor {8}burst: the broker alone at/);
  }, 120_000);
});

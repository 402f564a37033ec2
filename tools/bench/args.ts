import { resolve } from 'node:path';
import type { WatchKind } from './watch';

/** The command line of `npm run bench -- …`. */
export interface BenchArgs {
  /** `--masters M`: master processes; tasks are created and started on them round-robin. */
  masters: number;
  /** `--workers N`: external worker processes. */
  workers: number;
  /** `--tasks K`: control tasks pushed through the REST API. */
  tasks: number;
  /** `--capacity C`: each worker's `task.maxActiveTasks`. */
  capacity: number;
  /** `--concurrency R`: REST requests in flight while creating and starting tasks. */
  concurrency: number;
  /** `--baseline-messages B`: messages of the raw broker baseline. */
  baselineMessages: number;
  /** `--timeout S`: the longest the run waits for every task to be EXECUTED, in ms. */
  timeoutMs: number;
  /** `--reconcile-after D`: `task.reconcileAfter` of the masters (a Shipdeck duration, default the product's 60s). */
  reconcileAfter: string;
  /** `--log-level L`: `log.level` of the cluster's processes. */
  logLevel: string;
  /** `--skip-baseline`: no broker baseline (brokerMsgsPerSec and ratioToBroker are null). */
  skipBaseline: boolean;
  /**
   * `--broker-floor`: after each phase of a burst or rate run, the broker alone at that phase's
   * rate (tools/bench/floor.ts): its CPU per message, the floor under the cluster's `broker` share.
   */
  brokerFloor: boolean;
  /**
   * `--attach URL[,URL…]`: drive an already running cluster (its masters' base URLs) instead of
   * starting one; nothing of that cluster is stopped or removed afterwards. For developing the
   * bench itself, and for measuring a cluster set up by hand.
   */
  attach: string[] | null;
  /**
   * `--transport T`: the broker and protocol of the task queue: `rabbitmq-amqp` (default),
   * `artemis-amqp` or `artemis-stomp` (the local Artemis of artemis-broker/start-local, or
   * SHIPDECK_TEST_ARTEMIS_AMQP_URL / _STOMP_URL). The baseline measures the same transport.
   */
  transport: BenchTransport;
  /** `--step S`: what each task's one step does (see {@link BenchStep}); the mode's default when not given. */
  step: BenchStep;
  /**
   * `--rate N/s`: open-loop arrival, N tasks created and started per second whatever the cluster
   * does with them; `--rate half`: a burst first, then the same tasks again at half its rate;
   * null: one burst with `concurrency` requests in flight.
   */
  rate: number | 'half' | null;
  /**
   * `--warmup W`: tasks pushed and awaited before the first measured phase of a burst, rate or
   * scale-out run, their figures dropped (the first tasks of a fresh cluster pay for JIT
   * compilation, connection pools, prepared statements).
   */
  warmup: number;
  /**
   * `--watch W`: how the bench learns that its tasks are EXECUTED while CPU is counted: `database`
   * (default; one query of the launched cluster's schema every 100 ms) or `rest` (one
   * `GET /tasks/{id}` per task, as a polling client would; the only choice with `--attach`).
   */
  watch: WatchKind;
  /**
   * `--cpu-profile DIR`: the launched masters and workers sample their JavaScript and write
   * DIR/<name>-<pid>.cpuprofile when the bench stops them (tools/bench/cpu-profile-preload.js).
   */
  cpuProfile: string | null;
  /** `--scale-out`, `--capacity-test`, `--recovery-test`; `burst` (the default) otherwise. */
  mode: BenchMode;
  help: boolean;
}

/**
 * What the step of every task does. `noop`: control noop of the local host, nothing at all (the
 * engine alone); `check`: control checkConnection (what issue 16 first measured); `shell`: a
 * deployment of one `cmd.Command` step running `true` in a shell; `sleep`: control noop with
 * `sleepMs`, an I/O-bound step of `ms` that uses no CPU.
 */
export type BenchStep = { kind: 'noop' } | { kind: 'check' } | { kind: 'shell' } | { kind: 'sleep'; ms: number };

export const BENCH_MODES = ['burst', 'scale-out', 'capacity-test', 'recovery-test'] as const;
export type BenchMode = (typeof BENCH_MODES)[number];

/** `sleep:200` for the step's description and the JSON line. */
export function stepName(step: BenchStep): string {
  return step.kind === 'sleep' ? `sleep:${step.ms}` : step.kind;
}

/** The workers, capacity, step and tasks of each mode when the command line does not give them. */
export const MODE_DEFAULTS: Record<BenchMode, { workers: number; capacity: number; tasks: number; step: BenchStep }> = {
  burst: { workers: 1, capacity: 10, tasks: 1000, step: { kind: 'noop' } },
  // Worker counts 1, 2, 4 are the mode itself; --workers is refused.
  'scale-out': { workers: 1, capacity: 50, tasks: 1000, step: { kind: 'sleep', ms: 200 } },
  'capacity-test': { workers: 1, capacity: 1000, tasks: 1000, step: { kind: 'sleep', ms: 60_000 } },
  // The tasks must still be running when the worker is killed: an hour-long sleep.
  'recovery-test': { workers: 1, capacity: 100, tasks: 100, step: { kind: 'sleep', ms: 3_600_000 } },
};

export const BENCH_TRANSPORTS = ['rabbitmq-amqp', 'artemis-amqp', 'artemis-stomp'] as const;
export type BenchTransport = (typeof BENCH_TRANSPORTS)[number];

export const USAGE = `Usage: npm run bench -- --masters M --workers N --tasks K [options]

Starts M masters and N workers against PostgreSQL and RabbitMQ (a schema and a queue of their
own), pushes K one-step tasks through the masters' REST API round-robin, waits until every one
is EXECUTED and prints the figures: throughput, dispatch latency, CPU per task and component,
idle and peak RSS per process. The last line of stdout is one JSON object. docs/performance.md
says how each figure of the issue's targets is measured.

Options:
  --masters M            master processes (default 1)
  --workers N            worker processes (default 1)
  --tasks K              tasks (default 1000; 100 in --recovery-test)
  --capacity C           task.maxActiveTasks of every worker (default 10; 50 in --scale-out,
                         1000 in --capacity-test, 100 in --recovery-test)
  --step S               what each task's one step does (default noop; sleep:200 in --scale-out,
                         sleep:60000 in --capacity-test, sleep:3600000 in --recovery-test):
                           noop      control noop on a local host: nothing, the engine alone
                           check     control checkConnection on a local host
                           shell     a deployment of one cmd.Command step running \`true\` (one
                                     environment per task: deployments lock their environment)
                           sleep:MS  control noop with sleepMs MS: I/O-bound, no CPU
  --rate N/s | half      open-loop arrival: create and start N tasks per second whatever the
                         cluster does; half: a burst first, then the same number of tasks at
                         half its rate (default: one burst, --concurrency requests in flight)
  --warmup W             tasks run before the first measured phase of a burst, rate or
                         scale-out run, their figures dropped (default 50; 0: none)
  --watch W              how the bench waits for its tasks while CPU is counted: database
                         (default: one query of the cluster's schema every 100 ms) or rest (one
                         GET /tasks/{id} per task, as a polling client; the default with --attach)
  --cpu-profile DIR      the launched masters and workers write a .cpuprofile each into DIR when
                         the bench stops them (open in Chrome DevTools; profiling adds CPU)
  --scale-out            1, then 2, then 4 workers (added to the running cluster), K tasks each
                         (created first, then started in a burst); throughput and efficiency
                         against linear
  --capacity-test        one worker of capacity C runs K concurrent steps (created first, then
                         started): wall time against the step's duration, peak concurrency,
                         peak RSS
  --recovery-test        K tasks held by one worker that is SIGKILLed with their recovery files
                         in its work directory, then started again: time from its start until
                         it logs and stores them recovered
  --concurrency R        REST requests in flight (default 32)
  --baseline-messages B  messages of the raw broker baseline (default 5000)
  --timeout S            seconds to wait for every task to be EXECUTED (default 120 + K/2, plus
                         the step's sleep)
  --reconcile-after D    task.reconcileAfter of the masters, e.g. 60s (default, as shipped) or 5m
  --log-level L          log.level of the cluster processes: info (default), http, verbose, debug, silly
  --skip-baseline        do not measure the raw broker throughput (only burst and rate runs do)
  --broker-floor         after each phase of a burst or rate run, pass as many messages as it had
                         tasks through the broker alone (rhea, no Shipdeck) at its rate, and report
                         the broker's CPU per message: the floor under the cluster's broker share
                         (AMQP transports)
  --attach URL[,URL…]    drive masters that are already running instead of starting a cluster
  --transport T          rabbitmq-amqp (default), artemis-amqp or artemis-stomp; the baseline
                         measures the same broker and protocol
  --help                 this text

Credentials: the launched cluster's admin (test/support/credentials.ts), traded for an API
token; with --attach, SHIPDECK_BENCH_TOKEN=<API token of a deployer> (else the test admin's
password, checked on every request).

Services (environment):
  SHIPDECK_TEST_DATABASE_URL  PostgreSQL (default postgres://postgres@127.0.0.1:5432/test)
  SHIPDECK_TEST_AMQP_URL      RabbitMQ 3.10+ with rabbitmq_amqp1_0 (default amqp://guest:guest@127.0.0.1:5672)
  SHIPDECK_TEST_ARTEMIS_AMQP_URL, SHIPDECK_TEST_ARTEMIS_STOMP_URL
                              ActiveMQ Artemis (default: the instance of artemis-broker/start-local)
`;

/** Thrown for a bad command line; the message says which argument and why. */
export class UsageError extends Error {}

type Option = { kind: 'int'; key: keyof BenchArgs; min: number } | { kind: 'flag'; key: keyof BenchArgs };

const OPTIONS: Record<string, Option> = {
  masters: { kind: 'int', key: 'masters', min: 1 },
  workers: { kind: 'int', key: 'workers', min: 1 },
  tasks: { kind: 'int', key: 'tasks', min: 1 },
  capacity: { kind: 'int', key: 'capacity', min: 1 },
  concurrency: { kind: 'int', key: 'concurrency', min: 1 },
  'baseline-messages': { kind: 'int', key: 'baselineMessages', min: 1 },
  timeout: { kind: 'int', key: 'timeoutMs', min: 1 },
  warmup: { kind: 'int', key: 'warmup', min: 0 },
  'skip-baseline': { kind: 'flag', key: 'skipBaseline' },
  'broker-floor': { kind: 'flag', key: 'brokerFloor' },
  help: { kind: 'flag', key: 'help' },
};
const MODE_FLAGS: readonly string[] = BENCH_MODES.filter((m) => m !== 'burst');
const VALUED = ['log-level', 'attach', 'reconcile-after', 'transport', 'step', 'rate', 'watch', 'cpu-profile'];
/** The largest sleep of `--step sleep:MS`: control noop's own limit (libs/plugins local-host.ts). */
const MAX_SLEEP_MS = 3_600_000;

/** Parses `--name value` and `--name=value`; every problem is collected into one {@link UsageError}. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = {
    masters: 1,
    workers: 0,
    tasks: 0,
    capacity: 0,
    concurrency: 32,
    baselineMessages: 5000,
    timeoutMs: 0,
    reconcileAfter: '60s',
    logLevel: 'info',
    skipBaseline: false,
    brokerFloor: false,
    attach: null,
    transport: 'rabbitmq-amqp',
    step: { kind: 'noop' },
    rate: null,
    warmup: 50,
    watch: 'database',
    cpuProfile: null,
    mode: 'burst',
    help: false,
  };
  const problems: string[] = [];
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const match = /^--?([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const name = match?.[1] ?? '';
    if (!match || !(name in OPTIONS || VALUED.includes(name) || MODE_FLAGS.includes(name))) {
      problems.push(`${argv[i]}: unknown argument`);
      continue;
    }
    given.add(name);
    if (MODE_FLAGS.includes(name)) {
      if (match[2] !== undefined) problems.push(`--${name} takes no value`);
      if (args.mode !== 'burst' && args.mode !== name) problems.push(`--${name}: one mode at a time (--${args.mode} was given)`);
      args.mode = name as BenchMode;
      continue;
    }
    const option = OPTIONS[name];
    if (option?.kind === 'flag') {
      if (match[2] !== undefined) problems.push(`--${name} takes no value`);
      (args[option.key] as boolean) = true;
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined || value === '' || (match[2] === undefined && value.startsWith('--'))) {
      problems.push(`--${name} needs a value`);
      if (value?.startsWith('--')) i--;
      continue;
    }
    if (name === 'log-level') {
      // Not error or warn: the cluster launcher recognises a ready worker by its info line "Shipdeck worker … started".
      if (!['info', 'http', 'verbose', 'debug', 'silly'].includes(value)) {
        problems.push(`--log-level: must be info, http, verbose, debug or silly (got ${value}); the launcher waits for a worker's info-level start line`);
      }
      args.logLevel = value;
      continue;
    }
    if (name === 'reconcile-after') {
      if (!/^\d+(ms|s|m|h)?$/.test(value)) problems.push(`--reconcile-after: not a duration like 500ms, 10s, 5m (got ${value})`);
      args.reconcileAfter = value;
      continue;
    }
    if (name === 'transport') {
      if (!(BENCH_TRANSPORTS as readonly string[]).includes(value)) problems.push(`--transport: must be ${BENCH_TRANSPORTS.join(', ')} (got ${value})`);
      args.transport = value as BenchTransport;
      continue;
    }
    if (name === 'cpu-profile') {
      args.cpuProfile = resolve(value);
      continue;
    }
    if (name === 'watch') {
      if (value !== 'database' && value !== 'rest') problems.push(`--watch: must be database or rest (got ${value})`);
      else args.watch = value;
      continue;
    }
    if (name === 'step') {
      const step = parseStep(value);
      if (step === undefined) problems.push(`--step: must be noop, check, shell or sleep:MS with MS from 1 to ${MAX_SLEEP_MS} (got ${value})`);
      else args.step = step;
      continue;
    }
    if (name === 'rate') {
      const rate = /^(\d+(?:\.\d+)?)(?:\/s)?$/.exec(value);
      if (value === 'half') args.rate = 'half';
      else if (rate && Number(rate[1]) > 0) args.rate = Number(rate[1]);
      else problems.push(`--rate: must be a number of tasks per second like 50/s, or half (got ${value})`);
      continue;
    }
    if (name === 'attach') {
      const urls = value.split(',').map((u) => u.trim().replace(/\/+$/, ''));
      const bad = urls.filter((u) => !/^https?:\/\/[^/]+$/.test(u));
      if (bad.length > 0) problems.push(`--attach: not a base URL like http://127.0.0.1:4516: ${bad.join(', ')}`);
      args.attach = urls;
      continue;
    }
    const number = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < (option as { min: number }).min) {
      problems.push(`--${name} must be an integer of at least ${(option as { min: number }).min} (got ${value})`);
      continue;
    }
    (args[option.key] as number) = name === 'timeout' ? number * 1000 : number;
  }
  const defaults = MODE_DEFAULTS[args.mode];
  if (args.mode !== 'burst') {
    for (const clash of ['attach', 'rate', ...(args.mode === 'scale-out' ? ['workers'] : [])]) {
      if (given.has(clash)) problems.push(`--${clash} does not go with --${args.mode}`);
    }
  }
  // Their steps must still run when all are started (capacity) or when the worker is killed (recovery).
  if ((args.mode === 'capacity-test' || args.mode === 'recovery-test') && given.has('step') && args.step.kind !== 'sleep') {
    problems.push(`--step: --${args.mode} needs sleep:MS steps (got ${stepName(args.step)})`);
  }
  if (args.brokerFloor && args.mode !== 'burst') problems.push(`--broker-floor does not go with --${args.mode} (burst and rate runs only)`);
  if (args.brokerFloor && args.transport === 'artemis-stomp') problems.push('--broker-floor measures the AMQP transports only (rabbitmq-amqp, artemis-amqp)');
  // Attached masters' database is not known to the bench.
  if (args.attach && args.cpuProfile) problems.push('--cpu-profile does not go with --attach (the bench starts no process to profile)');
  if (args.attach && given.has('watch') && args.watch === 'database') problems.push('--watch database does not go with --attach (its database is unknown): use --watch rest');
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  args.workers ||= defaults.workers;
  args.capacity ||= defaults.capacity;
  args.tasks ||= defaults.tasks;
  if (!given.has('step')) args.step = defaults.step;
  if (args.attach) args.masters = args.attach.length;
  if (args.attach) args.watch = 'rest';
  // The recovery test never waits for its hour-long steps.
  const stepMs = args.step.kind === 'sleep' && args.mode !== 'recovery-test' ? args.step.ms : 0;
  if (args.timeoutMs === 0) args.timeoutMs = (120 + Math.ceil(args.tasks / 2)) * 1000 + stepMs;
  return args;
}

function parseStep(value: string): BenchStep | undefined {
  if (value === 'noop' || value === 'check' || value === 'shell') return { kind: value };
  const sleep = /^sleep:(\d+)$/.exec(value);
  const ms = Number(sleep?.[1]);
  return sleep && ms >= 1 && ms <= MAX_SLEEP_MS ? { kind: 'sleep', ms } : undefined;
}

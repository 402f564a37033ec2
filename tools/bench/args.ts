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
  help: boolean;
}

export const BENCH_TRANSPORTS = ['rabbitmq-amqp', 'artemis-amqp', 'artemis-stomp'] as const;
export type BenchTransport = (typeof BENCH_TRANSPORTS)[number];

export const USAGE = `Usage: npm run bench -- --masters M --workers N --tasks K [options]

Starts M masters and N workers against PostgreSQL and RabbitMQ (a schema and a queue of their
own), pushes K one-step control tasks (checkConnection on a local host) through the masters'
REST API round-robin, waits until every one is EXECUTED and prints the figures. The last line
of stdout is one JSON object.

Options:
  --masters M            master processes (default 1)
  --workers N            worker processes (default 1)
  --tasks K              control tasks (default 1000)
  --capacity C           task.maxActiveTasks of every worker (default 10)
  --concurrency R        REST requests in flight (default 32)
  --baseline-messages B  messages of the raw broker baseline (default 5000)
  --timeout S            seconds to wait for every task to be EXECUTED (default 120 + K/2)
  --reconcile-after D    task.reconcileAfter of the masters, e.g. 60s (default, as shipped) or 5m
  --log-level L          log.level of the cluster processes: info (default), http, verbose, debug, silly
  --skip-baseline        do not measure the raw broker throughput
  --attach URL[,URL…]    drive masters that are already running instead of starting a cluster
  --transport T          rabbitmq-amqp (default), artemis-amqp or artemis-stomp; the baseline
                         measures the same broker and protocol
  --help                 this text

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
  'skip-baseline': { kind: 'flag', key: 'skipBaseline' },
  help: { kind: 'flag', key: 'help' },
};

/** Parses `--name value` and `--name=value`; every problem is collected into one {@link UsageError}. */
export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = {
    masters: 1,
    workers: 1,
    tasks: 1000,
    capacity: 10,
    concurrency: 32,
    baselineMessages: 5000,
    timeoutMs: 0,
    reconcileAfter: '60s',
    logLevel: 'info',
    skipBaseline: false,
    attach: null,
    transport: 'rabbitmq-amqp',
    help: false,
  };
  const problems: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const match = /^--?([a-z-]+)(?:=(.*))?$/.exec(argv[i]);
    const name = match?.[1] ?? '';
    if (!match || !(name in OPTIONS || ['log-level', 'attach', 'reconcile-after', 'transport'].includes(name))) {
      problems.push(`${argv[i]}: unknown argument`);
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
  if (problems.length > 0) throw new UsageError(problems.join('\n'));
  if (args.attach) args.masters = args.attach.length;
  if (args.timeoutMs === 0) args.timeoutMs = (120 + Math.ceil(args.tasks / 2)) * 1000;
  return args;
}

/**
 * `npm run bench -- [--masters M] [--workers N] [--tasks K] [--step S] [--rate R | --scale-out |
 * --capacity-test | --recovery-test] …` (`--help` says all)
 *
 * Measures the broker's raw throughput first (the ceiling on this machine, in this run), then
 * starts a cluster of real processes, pushes tasks through the masters' REST API and reports
 * throughput, dispatch latency, CPU per task and component and memory per process, with a table
 * of the figures against issue 16's targets. The last line of stdout is one JSON object;
 * progress goes to stderr. Everything the run creates (processes, schema, queue, temporary
 * directories) is removed at the end, on an error and on Ctrl-C.
 */
import { randomUUID } from 'node:crypto';
import { deleteQueue } from '../../test/support/services';
import { BenchArgs, parseBenchArgs, stepName, USAGE, UsageError } from './args';
import { BaselineResult, measureBrokerBaseline } from './baseline';
import { Cleanup } from './cleanup';
import { rolesOf } from './cpu';
import { attachCluster, BenchCluster, startBenchCluster } from './cluster';
import { BrokerFloor, floorLines, measureBrokerFloor } from './floor';
import { memoryOfAll } from './memory';
import { capacityTest, ModeResult, recoveryTest, scaleOut } from './modes';
import { Log, PhaseFacts, runPhase } from './phase';
import { baselineLine, coreTargets, memoryText, phaseLines, summarize, summarizePhase, targetTable } from './report';
import { RestError, useApiToken } from './rest';
import { AMQP_URL, queueUrl, requireServices, ServiceUnavailableError } from './services';
import { Workload, workloadOf } from './workload';

const log: Log = (line) => process.stderr.write(`[bench] ${line}\n`);

async function measureBaseline(args: BenchArgs, cleanup: Cleanup): Promise<BaselineResult> {
  log(`broker baseline (${args.transport}): ${args.baselineMessages} durable messages through a fresh queue, one connection`);
  const queue = `shipdeck-bench-baseline-${randomUUID()}`;
  if (args.transport === 'rabbitmq-amqp') cleanup.add(`delete queue ${queue}`, () => deleteQueue(queue, AMQP_URL));
  const baseline = await measureBrokerBaseline({
    transport: args.transport,
    url: queueUrl(args.transport),
    queue,
    messages: args.baselineMessages,
    creditWindow: 100,
    bodyBytes: 60,
    timeoutMs: 120_000,
    // No cluster yet: every broker process is the broker's.
    roles: rolesOf(args.transport),
  });
  log(`broker baseline: ${Math.round(baseline.msgsPerSec)} msg/s (${Math.round(baseline.elapsedMs)} ms)`);
  return baseline;
}

/** The default mode: one burst, one open-loop run at `--rate`, or (`--rate half`) a burst and then half its rate. */
async function burstOrRate(cluster: BenchCluster, args: BenchArgs, workload: Workload, cleanup: Cleanup): Promise<ModeResult> {
  const phase = (label: string, arrival: PhaseFacts['arrival']) =>
    runPhase(cluster, args, workload, { label, arrival, count: args.tasks, workers: args.workers }, cleanup, log);
  const phases: PhaseFacts[] = [];
  if (args.rate === null || args.rate === 'half') phases.push(await phase('burst', { kind: 'burst', concurrency: args.concurrency }));
  if (args.rate !== null) {
    const perSec = args.rate === 'half' ? phases[0].figures.tasksPerSec / 2 : args.rate;
    phases.push(await phase(`rate ${perSec.toFixed(1)}/s`, { kind: 'rate', perSec }));
  }
  return { phases, lines: [], extra: {}, targets: [] };
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }

  const cleanup = new Cleanup(log);
  cleanup.onSignals();
  let cluster: BenchCluster | undefined;
  try {
    await requireServices(args.transport);
    // The baseline is the ceiling of the throughput figures; the other modes have no use for it.
    const baseline = args.skipBaseline || args.mode !== 'burst' ? null : await measureBaseline(args, cleanup);

    if (args.attach) {
      cluster = attachCluster(args.attach);
      log(`driving the running masters ${args.attach.join(', ')} (--attach: nothing of them is stopped afterwards)`);
    } else {
      log(`starting ${args.masters} master(s) and ${args.workers} worker(s) of capacity ${args.capacity}`);
      const began = Date.now();
      cluster = await startBenchCluster(args, cleanup);
      log(`cluster ready in ${Date.now() - began} ms: ${cluster.label}`);
    }
    // Not in somebody else's cluster: a token would stay there.
    if (!args.attach) await useApiToken(cluster.masters[0]);
    const idle = memoryOfAll(cluster.processes());
    const workload = workloadOf(args.step);
    if (args.warmup > 0 && (args.mode === 'burst' || args.mode === 'scale-out')) {
      const arrival = { kind: 'burst', concurrency: args.concurrency } as const;
      const warm = await runPhase(cluster, args, workload, { label: 'warm-up', arrival, count: args.warmup, workers: args.workers }, cleanup, log);
      log(`warm-up: ${args.warmup} tasks at ${warm.figures.tasksPerSec.toFixed(1)} tasks/s (not reported)`);
    }
    const input = { cluster, args, workload, cleanup, log };
    const result =
      args.mode === 'scale-out'
        ? await scaleOut(input)
        : args.mode === 'capacity-test'
          ? await capacityTest(input)
          : args.mode === 'recovery-test'
            ? await recoveryTest(input)
            : await burstOrRate(cluster, args, workload, cleanup);
    const end = memoryOfAll(cluster.processes());
    const workerNames = cluster.workerNames();
    const republished = cluster.republished();

    const phases = result.phases.map((p) => summarizePhase(p, baseline, workerNames));
    const floors: BrokerFloor[] = [];
    for (const phase of args.brokerFloor ? phases : []) floors.push(await measureBrokerFloor(args, phase, rolesOf(args.transport, cluster), cleanup, log));
    if (floors.length > 0) result.lines.push(...floorLines(floors));
    const extra = { ...result.extra, republished, ...(floors.length > 0 ? { brokerFloor: floors } : {}) };
    const summary = summarize(args, baseline, phases, { idle, end }, extra);
    const lines = [
      `Shipdeck benchmark (${args.mode}): ${args.masters} master(s), ${args.workers} worker(s) of capacity ${args.capacity}, ` +
        `step ${stepName(args.step)}: ${workload.description}`,
      '',
      baselineLine(args, baseline),
      `idle memory         ${memoryText(idle)}`,
      ...result.phases.flatMap((p, i) => ['', ...phaseLines(p, phases[i])]),
    ];
    if (republished !== null) {
      lines.push(
        `republished         ${republished} task messages published again by the reconciler ` +
          `(QUEUED without a claim for longer than task.reconcileAfter, ${args.reconcileAfter}; each extra copy costs a failed claim)`,
      );
    }
    if (result.lines.length > 0) lines.push('', ...result.lines);
    const targets = [...(args.mode === 'burst' ? coreTargets(summary, idle) : []), ...result.targets];
    lines.push('', "Against issue 16's targets (docs/performance.md):", ...targetTable(targets));

    // Stopped before the report, so that the JSON line stays the last line even with 2>&1.
    if (!args.attach) log('stopping the cluster and cleaning up');
    await cleanup.run();
    if (args.cpuProfile) lines.push('', `CPU profiles        ${args.cpuProfile} (one .cpuprofile per master and worker; profiling itself added CPU to this run)`);
    process.stdout.write(`${lines.join('\n')}\n\n${JSON.stringify(summary)}\n`);
    return 0;
  } catch (error) {
    // After Ctrl-C the signal handler cleans up and exits; what broke meanwhile is its doing.
    if (cleanup.interrupted) return new Promise<number>(() => undefined);
    const processes = cluster?.describe(30);
    if (processes) process.stderr.write(`\nbench: the cluster's last words:\n${processes}\n\n`);
    await cleanup.run();
    if (error instanceof ServiceUnavailableError) {
      process.stderr.write(`bench: a service the benchmark needs is not available (nothing was started):\n${error.message}\n`);
    } else if (error instanceof RestError) {
      process.stderr.write(`bench: a REST request failed: ${error.message}\n`);
    } else {
      process.stderr.write(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    }
    return 1;
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench: ${String(error)}\n`);
    process.exit(1);
  },
);

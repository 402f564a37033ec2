/**
 * `npm run bench -- --masters M --workers N --tasks K [--capacity C] [--concurrency R]`
 *
 * Measures the broker's raw throughput first (the ceiling on this machine, in this run), then
 * starts a cluster of real processes, pushes K one-step control tasks through the masters' REST
 * API and reports throughput and dispatch latency. The last line of stdout is one JSON object;
 * progress goes to stderr. Everything the run creates (processes, schema, queues, temporary
 * directories) is removed at the end, on an error and on Ctrl-C.
 */
import { randomUUID } from 'node:crypto';
import { deleteQueue } from '../../test/support/services';
import { parseBenchArgs, USAGE, UsageError } from './args';
import { BaselineResult, measureBrokerBaseline } from './baseline';
import { Cleanup } from './cleanup';
import { attachCluster, BenchCluster, startBenchCluster } from './cluster';
import { cpuBetween, sampleCpu } from './cpu';
import { createBenchHost, Progress, PushResult, pushTasks, waitUntilExecuted, WaitResult } from './driver';
import { humanReport, summarize } from './report';
import { RestError } from './rest';
import { AMQP_URL, queueUrl, requireServices, ServiceUnavailableError } from './services';
import { peakBacklog, taskFigures } from './stats';

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

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

    let baseline: BaselineResult | null = null;
    if (!args.skipBaseline) {
      log(`broker baseline (${args.transport}): ${args.baselineMessages} durable messages through a fresh queue, one connection`);
      const queue = `shipdeck-bench-baseline-${randomUUID()}`;
      if (args.transport === 'rabbitmq-amqp') cleanup.add(`delete queue ${queue}`, () => deleteQueue(queue, AMQP_URL));
      baseline = await measureBrokerBaseline({
        transport: args.transport,
        url: queueUrl(args.transport),
        queue,
        messages: args.baselineMessages,
        creditWindow: 100,
        bodyBytes: 60,
        timeoutMs: 120_000,
      });
      log(`broker baseline: ${Math.round(baseline.msgsPerSec)} msg/s (${Math.round(baseline.elapsedMs)} ms)`);
    }

    if (args.attach) {
      cluster = attachCluster(args.attach);
      log(`driving the running masters ${args.attach.join(', ')} (--attach: nothing of them is stopped afterwards)`);
    } else {
      log(`starting ${args.masters} master(s) and ${args.workers} worker(s) of capacity ${args.capacity}`);
      const began = Date.now();
      cluster = await startBenchCluster(args, cleanup);
      log(`cluster ready in ${Date.now() - began} ms: ${cluster.label}`);
    }
    const masters = cluster.masters;

    await createBenchHost(masters[0]);
    const progress: Progress = { created: 0, started: 0, done: 0 };
    const pushState = { done: false, failed: false };
    const ids: string[] = new Array(args.tasks);
    let push: PushResult | undefined;
    let wait: WaitResult;
    const pids = { masters: cluster.masterPids, workers: cluster.workerPids };
    const cpuBefore = sampleCpu(pids);
    const pushBegan = Date.now();
    const ticker = setInterval(() => {
      if (cleanup.interrupted) return;
      const seconds = ((Date.now() - pushBegan) / 1000).toFixed(0).padStart(4);
      log(`${seconds} s  created ${progress.created}/${args.tasks}  started ${progress.started}/${args.tasks}  done ${progress.done}/${args.tasks}`);
    }, 1000);
    try {
      const pushing = pushTasks(masters, ids, args.concurrency, progress).then(
        (result) => {
          push = result;
          pushState.done = true;
        },
        (error: unknown) => {
          pushState.failed = true;
          throw error;
        },
      );
      // Whichever fails first ends the run; a failed push gets here before the waiter notices it.
      [, wait] = await Promise.all([pushing, waitUntilExecuted(masters, ids, pushBegan + args.timeoutMs, progress, () => pushState)]);
    } finally {
      clearInterval(ticker);
    }
    const cpuAfter = sampleCpu(pids);
    if (!push) throw new Error('the push did not finish');
    log(`${((Date.now() - pushBegan) / 1000).toFixed(1)} s  all ${args.tasks} tasks EXECUTED`);

    const figures = taskFigures(wait.tasks, push.firstStartAt);
    const facts = {
      args,
      workers: args.attach ? Object.keys(figures.perWorker).length : args.workers,
      baseline,
      push,
      wait,
      figures,
      peakBacklog: peakBacklog(wait.tasks),
      workerNames: cluster.workerNames(),
      republished: cluster.republished(),
      cpu: cpuBefore && cpuAfter ? cpuBetween(cpuBefore, cpuAfter) : null,
    };
    const summary = summarize(facts);

    // Stopped before the report, so that the JSON line stays the last line even with 2>&1.
    if (!args.attach) log('stopping the cluster and cleaning up');
    await cleanup.run();
    process.stdout.write(`${humanReport(facts, summary).join('\n')}\n\n${JSON.stringify(summary)}\n`);
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

import { randomUUID } from 'node:crypto';
import { deleteQueue } from '../../test/support/services';
import type { BenchArgs } from './args';
import { measureBrokerBaseline } from './baseline';
import type { Cleanup } from './cleanup';
import type { RoleOf } from './cpu';
import type { Log } from './phase';
import type { PhaseSummary } from './report';
import { AMQP_URL, queueUrl } from './services';

/** What the broker alone costs at one phase's rate (`--broker-floor`). */
export interface BrokerFloor {
  /** The phase it was measured for. */
  label: string;
  /** Messages published per second (the phase's end-to-end tasks/s). */
  ratePerSec: number;
  messages: number;
  /** CPU ms of the broker per message; null without /proc. */
  brokerMsPerMessage: number | null;
  /** The cluster's broker share per task in that phase, for comparison. */
  clusterBrokerMsPerTask: number | null;
}

/** Body of each message: about the size of a signed task message of a one-step control task. */
const BODY_BYTES = 1000;

/**
 * The broker's floor at a phase's rate: as many durable messages as the phase had tasks go
 * through a fresh queue with rhea alone (no Shipdeck), published open loop at the phase's
 * end-to-end rate and consumed with a worker's credit window (its capacity), each accepted; the
 * broker's CPU from the first send to the last accept (the queue's creation and deletion left
 * out), per message, is what one task's message costs the broker whatever Shipdeck does around
 * it. Measured after the phases, with the cluster still up and idle (its idle chatter with the
 * broker counts here too).
 */
export async function measureBrokerFloor(
  args: BenchArgs,
  phase: PhaseSummary,
  roles: RoleOf,
  cleanup: Cleanup,
  log: Log,
): Promise<BrokerFloor> {
  const queue = `shipdeck-bench-floor-${randomUUID()}`;
  if (args.transport === 'rabbitmq-amqp') cleanup.add(`delete queue ${queue}`, () => deleteQueue(queue, AMQP_URL));
  log(`broker floor for ${phase.label}: ${phase.tasks} messages at ${phase.tasksPerSec} msg/s through the broker alone`);
  const measured = await measureBrokerBaseline({
    transport: args.transport,
    url: queueUrl(args.transport),
    queue,
    messages: phase.tasks,
    creditWindow: args.capacity,
    bodyBytes: BODY_BYTES,
    ratePerSec: phase.tasksPerSec,
    timeoutMs: 60_000 + (phase.tasks * 2000) / phase.tasksPerSec,
    roles,
  });
  const perMessage = measured.brokerCpuMsPerMessage;
  return {
    label: phase.label,
    ratePerSec: phase.tasksPerSec,
    messages: phase.tasks,
    brokerMsPerMessage: perMessage === null ? null : Math.round(perMessage * 100) / 100,
    clusterBrokerMsPerTask: phase.cpuMsPerTaskBy?.broker ?? null,
  };
}

/** The report's lines for the floors measured. */
export function floorLines(floors: readonly BrokerFloor[]): string[] {
  return floors.map(
    (f) =>
      `broker floor        ${f.label}: the broker alone at ${f.ratePerSec} msg/s (${f.messages} durable 1 KB messages, rhea, ` +
      `publish + accept): ${f.brokerMsPerMessage ?? '?'} ms of CPU per message; in the cluster: ${f.clusterBrokerMsPerTask ?? '?'} ms per task`,
  );
}

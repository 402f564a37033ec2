/**
 * What the upgrade and poison tests need besides the cluster harness: messages put straight into
 * the cluster's queue (as a stale publisher or a forger with broker access would), and reading
 * what the workers logged about each task they claimed or set aside.
 */
import { connect as connectAmqp091 } from 'amqplib';
import { TASK_MESSAGE_VERSION, TaskMessage, signTaskMessage, taskMessageKey } from '@shipdeck/queue';
import type { WorkerProcess } from '../support/worker-process';

/** A task message as a master would publish it, with `fields` on top. */
export function taskMessage(taskId: string, fields: Partial<TaskMessage>): TaskMessage {
  return {
    version: TASK_MESSAGE_VERSION,
    taskId,
    taskType: 'CONTROL',
    configHash: 'f'.repeat(64),
    publishedBy: 'master-of-another-time',
    publishedAt: new Date().toISOString(),
    ...fields,
  };
}

/** `message` signed with `secret`, as a master of that cluster signs it. */
export function signed(message: TaskMessage, secret: string): TaskMessage {
  return signTaskMessage(message, taskMessageKey(secret));
}

/**
 * Publishes raw bodies straight to the queue over AMQP 0-9-1 (persistent, confirmed): the
 * workers' AMQP 1.0 links read them as the data sections RabbitMQ makes of them.
 */
export async function publishRaw(amqpUrl: string, queueName: string, bodies: (string | TaskMessage)[]): Promise<void> {
  const connection = await connectAmqp091(amqpUrl);
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createConfirmChannel();
    for (const body of bodies) {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      channel.sendToQueue(queueName, Buffer.from(text), { persistent: true, contentType: 'application/json' });
    }
    await channel.waitForConfirms();
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** A worker's `claimed task … from the message of …` line: which master's message, with which configuration. */
export interface Claim {
  taskId: string;
  publishedBy: string;
  configHash: string;
  worker: WorkerProcess;
}

/** Every claim the workers logged (readable log lines: `claimed task ID from the message of M … configHash=H`). */
export function claimsOf(workers: readonly WorkerProcess[]): Claim[] {
  const claims: Claim[] = [];
  for (const worker of workers) {
    for (const line of worker.output().split('\n')) {
      const match = /claimed task (\S+) from the message of (\S+).*configHash=([0-9a-f]+)/.exec(line);
      if (match) claims.push({ taskId: match[1]!, publishedBy: match[2]!, configHash: match[3]!, worker });
    }
  }
  return claims;
}

/** How many lines of the workers' output match `pattern`. */
export function countLines(workers: readonly WorkerProcess[], pattern: RegExp): number {
  return workers.reduce((n, w) => n + w.output().split('\n').filter((line) => pattern.test(line)).length, 0);
}

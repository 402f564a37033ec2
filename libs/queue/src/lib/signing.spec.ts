import { LevelLogger } from '@shipdeck/logging';
import { decodeTaskMessage, encodeTaskMessage } from './amqp/envelope';
import { InProcessTaskQueue } from './in-process-queue';
import { TASK_MESSAGE_VERSION, TaskMessage } from './message';
import { Delivery } from './port';
import { SignedTaskQueue, signTaskMessage, signatureProblem, taskMessageKey } from './signing';

const SECRET = 'cluster-secret-for-the-signing-spec-0123';

const message = (taskId: string, fields: Partial<TaskMessage> = {}): TaskMessage => ({
  version: TASK_MESSAGE_VERSION,
  taskId,
  taskType: 'DEPLOYMENT',
  configHash: 'hash-a',
  publishedBy: 'master-1',
  publishedAt: '2026-12-01T10:00:00.000Z',
  ...fields,
});

function recordingLogger(): LevelLogger & { warnings: { message: string; meta?: Record<string, unknown> }[] } {
  const warnings: { message: string; meta?: Record<string, unknown> }[] = [];
  return {
    warnings,
    error: () => undefined,
    warn: (text: string, meta?: Record<string, unknown>) => void warnings.push({ message: text, meta }),
    info: () => undefined,
    debug: () => undefined,
  };
}

async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 2000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('task message signatures', () => {
  const key = taskMessageKey(SECRET);

  it('verifies a signed message and refuses any change to any field', () => {
    const signed = signTaskMessage(message('t1'), key);
    expect(signed.signature).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(signatureProblem(signed, key)).toBeUndefined();
    const altered: Partial<TaskMessage>[] = [
      { taskId: 't2' },
      { taskType: 'CONTROL' },
      { configHash: 'hash-b' },
      { publishedBy: 'master-2' },
      { publishedAt: '2026-12-01T10:00:00.001Z' },
    ];
    for (const change of altered) {
      expect(signatureProblem({ ...signed, ...change }, key)).toMatch(/does not match/);
    }
  });

  it('refuses an unsigned message, one signed with another secret, and a malformed signature', () => {
    expect(signatureProblem(message('t1'), key)).toBe('it is not signed');
    expect(signatureProblem(signTaskMessage(message('t1'), taskMessageKey(`${SECRET}-other`)), key)).toMatch(/does not match/);
    expect(signatureProblem({ ...message('t1'), signature: 'x'.repeat(500) }, key)).toBe('its signature is malformed');
  });

  it('travels in the AMQP envelope body (the STOMP adapter uses the same body)', () => {
    const signed = signTaskMessage(message('t1'), key);
    const decoded = decodeTaskMessage(encodeTaskMessage(signed));
    expect(decoded).toEqual({ ok: true, message: signed });
    expect(decoded.ok && signatureProblem(decoded.message, key)).toBeUndefined();
  });
});

describe('SignedTaskQueue', () => {
  it('signs what it publishes and hands only verified messages to the handler; a bad one is accepted, logged and never seen', async () => {
    const inner = new InProcessTaskQueue();
    const logger = recordingLogger();
    const queue = new SignedTaskQueue(inner, { secret: SECRET, logger });
    const seen: Delivery[] = [];
    await queue.consume({ capacity: 2 }, async (delivery) => {
      seen.push(delivery);
      await delivery.accept();
    });
    // Straight into the inner queue: what a forger with broker access could publish.
    await inner.publish(message('forged-unsigned'));
    await inner.publish(signTaskMessage(message('forged-other-secret'), taskMessageKey(`${SECRET}-guess`)));
    await inner.publish({ ...signTaskMessage(message('altered'), taskMessageKey(SECRET)), configHash: 'hash-b' });
    await queue.publish(message('genuine'));
    await until(() => seen.length === 1 && queue.refused === 3);
    expect(seen.map((d) => d.message.taskId)).toEqual(['genuine']);
    expect(inner.depth).toBe(0);
    expect(logger.warnings.map((w) => [w.message, w.meta?.['taskId']])).toEqual([
      ['task message dropped unexecuted: it is not signed', 'forged-unsigned'],
      ['task message dropped unexecuted: its signature does not match (forged, altered, or signed with another cluster secret)', 'forged-other-secret'],
      ['task message dropped unexecuted: its signature does not match (forged, altered, or signed with another cluster secret)', 'altered'],
    ]);
    expect(JSON.stringify(logger.warnings)).not.toContain(SECRET);
    await queue.close();
  });
});

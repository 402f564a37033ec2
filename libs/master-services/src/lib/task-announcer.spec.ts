import type { Logger } from '@shipdeck/logging';
import type { TaskMessage, TaskQueue } from '@shipdeck/queue';
import type { TaskRecord } from '@shipdeck/tasks';
import { TaskAnnouncer } from './task-announcer';

/** A broker connection that is up or down; a publish is accepted only when the test says so. */
class FakeBroker {
  connected = true;
  readonly sent: TaskMessage[] = [];
  private readonly accepts: (() => void)[] = [];

  readonly queue = {
    checkReady: async () => {
      if (!this.connected) throw new Error('the message broker is not connected');
    },
    publish: (message: TaskMessage) =>
      new Promise<void>((resolve) => {
        this.sent.push(message);
        this.accepts.push(resolve);
      }),
  } as unknown as TaskQueue;

  acceptAll(): void {
    for (const accept of this.accepts.splice(0)) accept();
  }
}

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const logger = { warnings, error: () => undefined, info: () => undefined, debug: () => undefined, warn: (m: string) => warnings.push(m), child: () => logger };
  return logger;
}

const task = (id: string) => ({ id, type: 'DEPLOYMENT' }) as TaskRecord;

/** Whether `promise` settles before the macrotask queue is drained once. */
async function settlesNow(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true));
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('TaskAnnouncer.announceForRequest', () => {
  it('waits for the broker to accept the message while it is connected', async () => {
    const broker = new FakeBroker();
    const announcer = new TaskAnnouncer(broker.queue, 'master-1', 'hash', recordingLogger());
    const answered = announcer.announceForRequest(task('t1'));
    expect(await settlesNow(answered)).toBe(false);
    broker.acceptAll();
    await answered;
    expect(broker.sent.map((m) => m.taskId)).toEqual(['t1']);
  });

  it('answers at once while the broker is disconnected, leaving the message to go out later, and says so once per outage', async () => {
    const broker = new FakeBroker();
    const logger = recordingLogger();
    const announcer = new TaskAnnouncer(broker.queue, 'master-1', 'hash', logger);
    broker.connected = false;
    expect(await settlesNow(announcer.announceForRequest(task('t1')))).toBe(true);
    expect(await settlesNow(announcer.announceForRequest(task('t2')))).toBe(true);
    // Both messages were handed to the queue (its outbox sends them on reconnect).
    expect(broker.sent.map((m) => m.taskId)).toEqual(['t1', 't2']);
    expect(logger.warnings).toEqual([expect.stringContaining('the message broker is not connected')]);

    broker.connected = true;
    const answered = announcer.announceForRequest(task('t3'));
    broker.acceptAll();
    await answered;
    broker.connected = false;
    await announcer.announceForRequest(task('t4'));
    expect(logger.warnings).toHaveLength(2);
  });
});

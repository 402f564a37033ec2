import { NotReadyError } from '@shipdeck/errors';
import { createLogger } from '@shipdeck/logging';
import { StepLogStore } from '@shipdeck/persistence';
import { ManualClock } from '../testing/manual-clock';
import { StepLogWriter } from './step-log-writer';

/** A step log store in memory whose database can be taken away, like PostgreSQL during an outage. */
class OutageStepLogStore implements StepLogStore {
  readonly logs = new Map<string, string>();
  down = false;
  /** Appends to fail before the database is back (a short outage). */
  failNext = 0;
  appends = 0;

  async append(taskId: string, path: string, text: string): Promise<void> {
    this.appends++;
    if (this.failNext > 0) this.failNext--;
    else if (!this.down) {
      this.logs.set(`${taskId}/${path}`, (this.logs.get(`${taskId}/${path}`) ?? '') + text);
      return;
    }
    throw new NotReadyError('the database is not reachable');
  }

  async read(taskId: string, path: string): Promise<string> {
    return this.logs.get(`${taskId}/${path}`) ?? '';
  }

  async removeTask(taskId: string): Promise<void> {
    for (const key of [...this.logs.keys()]) if (key.startsWith(`${taskId}/`)) this.logs.delete(key);
  }
}

describe('StepLogWriter', () => {
  const logger = createLogger({ level: 'error', json: false, name: 'step-log-writer-test' });
  let store: OutageStepLogStore;
  let clock: ManualClock;
  let writer: StepLogWriter;
  beforeEach(() => {
    store = new OutageStepLogStore();
    clock = new ManualClock();
    writer = new StepLogWriter(store, 't', logger, 250, clock);
  });

  it('writes each step\'s chunks in order, in one write per flush', async () => {
    writer.write('1-1-1', 'A');
    writer.write('1-1-2', 'x');
    writer.write('1-1-1', 'B');
    await writer.flush();
    writer.write('1-1-1', 'C');
    await writer.flush();
    expect(await store.read('t', '1-1-1')).toBe('ABC');
    expect(await store.read('t', '1-1-2')).toBe('x');
    expect(store.appends).toBe(3);
  });

  it('keeps per-step order for chunks buffered during a database outage', async () => {
    store.down = true;
    // Flushes start before earlier ones have failed, as the flush timer starts them while the database hangs.
    const flushes: Promise<void>[] = [];
    for (const chunk of ['A', 'B', 'C']) {
      writer.write('1-1-1', chunk);
      writer.write('1-1-2', chunk.toLowerCase());
      flushes.push(writer.flush());
    }
    await Promise.all(flushes);
    expect(store.logs.size).toBe(0);

    store.down = false;
    writer.write('1-1-1', 'D');
    await writer.flush();
    expect(await store.read('t', '1-1-1')).toBe('ABCD');
    expect(await store.read('t', '1-1-2')).toBe('abc');
  });

  it('writes a chunk kept from a failed write before one written after the database came back', async () => {
    store.failNext = 1;
    writer.write('1-1-1', 'A');
    const failed = writer.flush();
    writer.write('1-1-1', 'B');
    const next = writer.flush();
    await Promise.all([failed, next]);
    await writer.flush();
    expect(await store.read('t', '1-1-1')).toBe('AB');
  });

  it('tries kept text again by itself once the database is back', async () => {
    store.down = true;
    writer.write('1-1-1', 'A');
    await writer.flush();
    store.down = false;
    await clock.advance(1000);
    // The retry timer started a flush; a flush waits for every earlier write.
    await writer.flush();
    expect(await store.read('t', '1-1-1')).toBe('A');
    expect(store.appends).toBe(2);
  });
});

import { PassThrough, Writable } from 'node:stream';
import { createLogger, Logger, taskLogger } from './logger';

function capture(json: boolean, level: 'info' | 'debug' = 'info'): { logger: Logger; lines: () => string[] } {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
  const logger = createLogger({ json, name: 'master', level, stream });
  return { logger, lines: () => chunks.join('').split('\n').filter((line) => line !== '') };
}

/** Winston writes asynchronously; wait for the stream to be flushed. */
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('createLogger', () => {
  it('writes readable single lines with the time, level, name, message and key=value pairs', async () => {
    const { logger, lines } = capture(false);
    logger.info('task queued', { taskId2: 'x', count: 3, note: 'two words' });
    await flush();
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} info  \[master\] task queued taskId2=x count=3 note="two words"$/);
  });

  it('writes JSON lines when json is set', async () => {
    const { logger, lines } = capture(true);
    logger.warn('broker down', { attempt: 2 });
    await flush();
    const entry = JSON.parse(lines()[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'warn', message: 'broker down', name: 'master', attempt: 2 });
    expect(typeof entry['timestamp']).toBe('string');
  });

  it('honours the level', async () => {
    const { logger, lines } = capture(false);
    logger.debug('hidden');
    logger.error('shown');
    await flush();
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toContain('shown');
  });

  it('keeps error details in JSON', async () => {
    const { logger, lines } = capture(true);
    logger.error('query failed', { error: Object.assign(new Error('boom'), { code: 'ECONNREFUSED' }) });
    await flush();
    const entry = JSON.parse(lines()[0]!) as { error: Record<string, unknown> };
    expect(entry.error).toMatchObject({ message: 'boom', code: 'ECONNREFUSED' });
  });
});

describe('taskLogger', () => {
  it('shows the task and step on every readable line', async () => {
    const { logger, lines } = capture(false);
    taskLogger(logger, '1234', '1-1-2').info('step started');
    taskLogger(logger, '1234').info('task started');
    await flush();
    expect(lines()[0]).toMatch(/ \[master\] \[task 1234 step 1-1-2\] step started$/);
    expect(lines()[1]).toMatch(/ \[master\] \[task 1234\] task started$/);
  });

  it('carries taskId and stepPath as JSON fields', async () => {
    const { logger, lines } = capture(true);
    taskLogger(logger, 'abc', '2-1').info('done');
    taskLogger(logger, 'abc').info('no step');
    await flush();
    expect(JSON.parse(lines()[0]!)).toMatchObject({ taskId: 'abc', stepPath: '2-1', message: 'done' });
    expect(JSON.parse(lines()[1]!)).not.toHaveProperty('stepPath');
  });
});

describe('Logger', () => {
  it('is what createLogger makes: its children log through the interface, with their fields', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger: Logger = createLogger({ json: true, name: 'test', stream });
    logger.child({ workerId: 'w-1' }).info('hello');
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', message: 'hello', name: 'test', workerId: 'w-1' });
  });
});

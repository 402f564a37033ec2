import { PassThrough, Writable } from 'node:stream';
import { createLogger, Logger, taskLogger, writeConsoleNotice } from './logger';

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

  it('writes JSON lines when json is set: timestamp, level, component, message and the fields of the call and of child loggers', async () => {
    const { logger, lines } = capture(true);
    logger.warn('broker down', { attempt: 2 });
    taskLogger(logger.child({ workerId: 'w-1' }), 't-1', '1-1-1').info('line\nwith \u001b[2J controls', { requestId: 'r-1' });
    await flush();
    const entry = JSON.parse(lines()[0]!) as Record<string, unknown>;
    expect(entry).toMatchObject({ level: 'warn', message: 'broker down', component: 'master', attempt: 2 });
    expect(new Date(entry['timestamp'] as string).toISOString()).toBe(entry['timestamp']);
    expect(lines()).toHaveLength(2);
    expect(lines()[1]).not.toMatch(/[\u0000-\u001f]/);
    expect(JSON.parse(lines()[1]!)).toMatchObject({
      message: 'line\nwith \u001b[2J controls',
      component: 'master',
      workerId: 'w-1',
      taskId: 't-1',
      stepPath: '1-1-1',
      requestId: 'r-1',
    });
  });

  it('honours the level', async () => {
    const { logger, lines } = capture(false);
    logger.debug('hidden');
    logger.error('shown');
    await flush();
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toContain('shown');
  });

  it('drops a line below the level at the call, before reading its fields, in children too', async () => {
    const { logger, lines } = capture(false);
    let reads = 0;
    const meta = {
      get detail() {
        reads++;
        return 'x';
      },
    };
    logger.debug('hidden', meta);
    taskLogger(logger, 't1').debug('hidden too', meta);
    logger.info('shown', meta);
    await flush();
    expect(reads).toBe(1);
    expect(lines()).toEqual([expect.stringContaining('shown detail=x')]);
  });

  it('writes a line of a level enabled after the logger was made', async () => {
    const { logger, lines } = capture(false);
    (logger as ReturnType<typeof createLogger>).level = 'debug';
    taskLogger(logger, 't1').debug('now shown');
    await flush();
    expect(lines()).toEqual([expect.stringContaining('now shown')]);
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

describe('control characters (issue 9: no forged log lines)', () => {
  it('escapes newlines, escape sequences, NUL and bidi overrides in the message and values', async () => {
    const { logger, lines } = capture(false);
    logger.info('host web1\n10:00:00.000 error [master] forged\u001b[2J\u0000', { name2: 'a\r\nb', who: 'x\u202Ey', list: ['p\u2028q'] });
    await flush();
    expect(lines()).toHaveLength(1);
    expect(lines()[0]).toContain('host web1\\n10:00:00.000 error [master] forged\\u001b[2J\\u0000');
    expect(lines()[0]).toContain('name2="a\\r\\nb"');
    expect(lines()[0]).toContain('who=x\\u202ey');
    expect(lines()[0]).toContain('list=["p\\u2028q"]');
  });

  it('escapes the task id and step path', async () => {
    const { logger, lines } = capture(false);
    taskLogger(logger, 't\n1', '1\u202E').info('step done');
    await flush();
    expect(lines()).toEqual([expect.stringContaining('[task t\\n1 step 1\\u202e] step done')]);
  });

  it('keeps a stack on indented lines that cannot pass for entries', async () => {
    const { logger, lines } = capture(false);
    logger.error('failed', { stack: 'Error: bad name\n12:00:00.000 info  [master] forged\n    at x (y.ts:1:1)' });
    await flush();
    expect(lines()[0]).toMatch(/failed$/);
    for (const line of lines().slice(1)) expect(line).toMatch(/^ {4}\S/);
  });

  it('writes JSON lines with the characters escaped by JSON', async () => {
    const { logger, lines } = capture(true);
    logger.info('a\nb');
    await flush();
    expect(lines()).toHaveLength(1);
    expect((JSON.parse(lines()[0]!) as { message: string }).message).toBe('a\nb');
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
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', message: 'hello', component: 'test', workerId: 'w-1' });
  });
});

describe('writeConsoleNotice', () => {
  it('writes the text as it is for readable logs, one JSON line shaped like a log line for JSON logs', () => {
    const written: string[] = [];
    const stream = { write: (chunk: string) => written.push(chunk) };
    writeConsoleNotice({ json: false, name: 'master' }, '\n  hello\n  world\n\n', stream);
    writeConsoleNotice({ json: true, name: 'master' }, '\n  hello\n  world\n\n', stream);
    expect(written[0]).toBe('\n  hello\n  world\n\n');
    expect(written[1]).toMatch(/^\{.*\}\n$/);
    expect(JSON.parse(written[1]!)).toMatchObject({ level: 'info', component: 'master', message: 'hello world' });
  });
});

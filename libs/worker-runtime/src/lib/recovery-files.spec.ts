import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TaskRecord, buildPlan } from '@shipdeck/tasks';
import { DirectorySync, RECOVERY_FORMAT, RecoveryFiles } from './recovery-files';

function task(id: string): TaskRecord {
  return {
    id,
    type: 'CONTROL',
    description: 'checkConnection on local',
    state: 'EXECUTING',
    plan: buildPlan([
      {
        description: 'p',
        blocks: [
          {
            description: 'b',
            parallel: false,
            steps: [{ description: 's', order: 1, ciType: 'host.local', operation: 'checkConnection', target: { name: 'l', type: 'local' }, properties: {} }],
          },
        ],
      },
    ]),
    workerId: 'w1',
    leaseUntil: null,
    attempt: 1,
    deployment: null,
    control: null,
    scheduledAt: null,
    createdAt: '2030-01-01T00:00:00.000Z',
    queuedAt: null,
    claimedAt: null,
    startedAt: null,
    completedAt: null,
    failure: null,
  };
}

describe('RecoveryFiles', () => {
  let dir: string;
  let files: RecoveryFiles;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'recovery-'));
    files = new RecoveryFiles(dir, 'w1');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps recovery files and the directories it creates private to the worker user (0600 / 0700)', async () => {
    const nested = new RecoveryFiles(join(dir, 'work', 'w1'), 'w1');
    const t = task('22222222-2222-2222-2222-222222222222');
    await nested.write(t);
    expect(statSync(join(dir, 'work', 'w1')).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'work', 'w1', `${t.id}.task`)).mode & 0o777).toBe(0o600);
  });

  it('writes <taskId>.task atomically and reads it back', async () => {
    const t = task('11111111-1111-1111-1111-111111111111');
    await files.write(t);
    t.state = 'EXECUTED';
    await files.write(t);
    expect(readdirSync(dir)).toEqual([`${t.id}.task`]);
    const { files: read, quarantined } = await files.readAll();
    expect(quarantined).toEqual([]);
    expect(read).toHaveLength(1);
    expect(read[0]).toMatchObject({ format: RECOVERY_FORMAT, version: 1, workerId: 'w1', task: { id: t.id, state: 'EXECUTED' } });
  });

  it('refresh writes only a task that changed since its last write, or whose file has gone', async () => {
    const t = task('33333333-3333-3333-3333-333333333333');
    const path = join(dir, `${t.id}.task`);
    await files.write(t);
    // Every write renames a new file into place: the same inode means nothing was written.
    const first = statSync(path).ino;
    await files.refresh(t);
    expect(statSync(path).ino).toBe(first);
    t.plan.phases[0]!.blocks[0]!.steps[0]!.state = 'EXECUTING';
    await files.refresh(t);
    expect(statSync(path).ino).not.toBe(first);
    expect(JSON.parse(readFileSync(path, 'utf8')).task.plan.phases[0].blocks[0].steps[0].state).toBe('EXECUTING');
    rmSync(path);
    await files.refresh(t);
    expect(JSON.parse(readFileSync(path, 'utf8')).task).toEqual(t);
    await files.remove(t.id);
    await files.refresh(t);
    expect(JSON.parse(readFileSync(path, 'utf8')).task).toEqual(t);
  });

  it('keeps the last of many concurrent writes of one task', async () => {
    const t = task('22222222-2222-2222-2222-222222222222');
    await Promise.all(
      Array.from({ length: 20 }, (_, i) => files.write({ ...t, attempt: i })),
    );
    const { files: read } = await files.readAll();
    expect(read[0].task.attempt).toBe(19);
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('creates its directory again when it has gone', async () => {
    const nested = new RecoveryFiles(join(dir, 'work'), 'w1');
    const t = task('55555555-5555-5555-5555-555555555555');
    await nested.write(t);
    rmSync(join(dir, 'work'), { recursive: true });
    await nested.write(t);
    expect(readdirSync(join(dir, 'work'))).toEqual([`${t.id}.task`]);
  });

  it('writes the files of many tasks at once, each complete', async () => {
    const tasks = Array.from({ length: 30 }, (_, i) => task(`66666666-6666-6666-6666-${String(i).padStart(12, '0')}`));
    await Promise.all(tasks.map((t) => files.write(t)));
    const { files: read, quarantined } = await files.readAll();
    expect(quarantined).toEqual([]);
    expect(read.map((f) => f.task.id)).toEqual(tasks.map((t) => t.id));
  });

  it('removes a file', async () => {
    const t = task('33333333-3333-3333-3333-333333333333');
    await files.write(t);
    await files.remove(t.id);
    await files.remove(t.id);
    expect((await files.readAll()).files).toEqual([]);
  });

  it.each([
    ['truncated', (good: string) => good.slice(0, good.length / 2), /not JSON/],
    ['not JSON', () => 'hello', /not JSON/],
    ['empty', () => '', /empty/],
    ['unknown version', (good: string) => good.replace('"version":1', '"version":99'), /unknown recovery file version 99/],
    ['another format', () => '{"format":"other"}', /not a Shipdeck recovery file/],
  ])('quarantines a %s file and reports why', async (_kind, damage, reason) => {
    const t = task('44444444-4444-4444-4444-444444444444');
    await files.write(t);
    const path = join(dir, `${t.id}.task`);
    writeFileSync(path, damage(readFileSync(path, 'utf8')));
    const { files: read, quarantined } = await files.readAll();
    expect(read).toEqual([]);
    expect(quarantined).toHaveLength(1);
    expect(quarantined[0].taskId).toBe(t.id);
    expect(quarantined[0].reason).toMatch(reason);
    expect(readdirSync(join(dir, 'quarantine'))).toHaveLength(1);
    expect(readdirSync(dir).filter((n) => n.endsWith('.task'))).toEqual([]);
  });
});

describe('DirectorySync', () => {
  /** An fsync that ends when the test says so, recording when each started. */
  function controlledFsync() {
    const calls: Array<() => void> = [];
    return {
      calls,
      fsync: () => new Promise<void>((resolve) => calls.push(resolve)),
    };
  }

  it('runs one fsync for a lone caller', async () => {
    const { calls, fsync } = controlledFsync();
    const sync = new DirectorySync('/unused', fsync);
    const done = sync.sync();
    expect(calls).toHaveLength(1);
    calls[0]();
    await done;
  });

  it('answers callers arriving during an fsync only after a next one, shared by all of them', async () => {
    const { calls, fsync } = controlledFsync();
    const sync = new DirectorySync('/unused', fsync);
    const ended: string[] = [];
    const first = sync.sync().then(() => ended.push('first'));
    const later = [sync.sync(), sync.sync(), sync.sync()].map((p, i) => p.then(() => ended.push(`later-${i}`)));
    expect(calls).toHaveLength(1);
    calls[0]();
    await first;
    await new Promise(setImmediate); // every promise reaction queued so far has run
    expect(ended).toEqual(['first']);
    expect(calls).toHaveLength(2);
    calls[1]();
    await Promise.all(later);
    expect(ended).toEqual(['first', 'later-0', 'later-1', 'later-2']);
    expect(calls).toHaveLength(2);
  });

  it('passes a failed fsync to its callers and runs the next one anyway', async () => {
    let n = 0;
    const sync = new DirectorySync('/unused', () => (n++ === 0 ? Promise.reject(new Error('EIO')) : Promise.resolve()));
    const first = sync.sync();
    const second = sync.sync();
    await expect(first).rejects.toThrow('EIO');
    await expect(second).resolves.toBeUndefined();
  });

  it('fsyncs a real directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dirsync-'));
    try {
      await new DirectorySync(dir).sync();
      await expect(new DirectorySync(join(dir, 'missing')).sync()).rejects.toThrow(/ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '@shipdeck/errors';
import { lockWorkDir } from './work-dir-lock';

describe('lockWorkDir', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lock-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('locks with this pid and releases', () => {
    const release = lockWorkDir(dir);
    expect(readFileSync(join(dir, 'worker.pid'), 'utf8').trim()).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, 'worker.pid'))).toBe(false);
  });

  it('refuses a directory held by a live process', () => {
    writeFileSync(join(dir, 'worker.pid'), `${process.ppid}\n`);
    expect(() => lockWorkDir(dir)).toThrow(ConfigError);
    expect(() => lockWorkDir(dir)).toThrow(/in use by process/);
  });

  it('takes over the lock of a dead process', () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)']).stdout.toString().trim();
    writeFileSync(join(dir, 'worker.pid'), `${dead}\n`);
    const release = lockWorkDir(dir);
    expect(readFileSync(join(dir, 'worker.pid'), 'utf8').trim()).toBe(String(process.pid));
    release();
    expect(existsSync(join(dir, 'worker.pid'))).toBe(false);
  });
});

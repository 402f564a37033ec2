import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '@shipdeck/errors';
import { PRIVATE_DIR, PRIVATE_FILE } from './file-modes';

const LOCK_FILE = 'worker.pid';

/**
 * Takes the work directory for this process: two live workers on one work directory would share
 * an id and each other's recovery files. A lock left by a dead process is taken over. Answers the
 * release function.
 */
export function lockWorkDir(workDir: string): () => void {
  mkdirSync(workDir, { recursive: true, mode: PRIVATE_DIR });
  const file = join(workDir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', PRIVATE_FILE);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
        } catch {
          // already gone
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
        throw new ConfigError(
          `work directory ${workDir} is in use by process ${holder}; give each worker its own work directory (-work-dir)`,
        );
      }
      unlinkSync(file);
    }
  }
  throw new ConfigError(`could not lock work directory ${workDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !isZombie(pid);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A killed process nobody reaped still answers signal 0; on Linux its stat says Z. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return false;
  }
}

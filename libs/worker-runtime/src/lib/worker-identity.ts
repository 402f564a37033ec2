import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { PRIVATE_DIR, PRIVATE_FILE } from './file-modes';

const ID_FILE = 'worker-id';

/**
 * The worker's id, kept in its work directory: a worker restarted on the same work directory is
 * the same worker (and recovers its tasks).
 */
export function loadOrCreateWorkerId(workDir: string): string {
  mkdirSync(workDir, { recursive: true, mode: PRIVATE_DIR });
  const file = join(workDir, ID_FILE);
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (id) return id;
  } catch {
    // first start on this work directory
  }
  const id = `worker-${randomUUID()}`;
  writeFileSync(`${file}.tmp`, `${id}\n`, { mode: PRIVATE_FILE });
  renameSync(`${file}.tmp`, file);
  return id;
}

import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { PRIVATE_DIR, PRIVATE_FILE } from './file-modes';
import { basename, join } from 'node:path';
import { TaskRecord } from '@shipdeck/tasks';

/** The recovery file format; a file of another format or version is quarantined, never guessed at. */
export const RECOVERY_FORMAT = 'shipdeck-task-recovery';
export const RECOVERY_VERSION = 1;
const SUFFIX = '.task';
/** Temporary files of {@link RecoveryFiles.write}: `.<taskId>.<uuid>.tmp`. */
const TEMPORARY = /^\..+\.tmp$/;
const QUARANTINE_DIR = 'quarantine';

/** What a recovery file holds: enough to rebuild the task (plan, step states, owner, attempt). */
export interface RecoveryFile {
  format: typeof RECOVERY_FORMAT;
  version: typeof RECOVERY_VERSION;
  workerId: string;
  writtenAt: string;
  task: TaskRecord;
}

export interface QuarantinedFile {
  /** The task id the file name gives. */
  taskId: string;
  /** Where the file was moved. */
  movedTo: string;
  reason: string;
}

/**
 * The `<work dir>/<taskId>.task` files (spec §5). Each write goes to a temporary file that is
 * fsynced and renamed over the old one (and the directory fsynced), so a crash at any point
 * leaves either the previous or the new content, never a mix. Writes of one task are serialized.
 */
export class RecoveryFiles {
  private readonly chains = new Map<string, Promise<void>>();

  constructor(
    readonly dir: string,
    private readonly workerId: string,
  ) {}

  pathOf(taskId: string): string {
    return join(this.dir, `${taskId}${SUFFIX}`);
  }

  write(task: TaskRecord): Promise<void> {
    const content: RecoveryFile = {
      format: RECOVERY_FORMAT,
      version: RECOVERY_VERSION,
      workerId: this.workerId,
      writtenAt: new Date().toISOString(),
      task: structuredClone(task),
    };
    return this.serialize(task.id, () => this.writeAtomically(task.id, JSON.stringify(content)));
  }

  remove(taskId: string): Promise<void> {
    return this.serialize(taskId, () => rm(this.pathOf(taskId), { force: true }));
  }

  /**
   * Every readable recovery file; unreadable ones are moved to `quarantine/` and reported. Read at
   * start only (the work directory is locked, nothing writes meanwhile), so the temporary files
   * found are left by a crash before their rename: never complete, removed.
   */
  async readAll(): Promise<{ files: RecoveryFile[]; quarantined: QuarantinedFile[]; staleTemporaries: string[] }> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
    const files: RecoveryFile[] = [];
    const quarantined: QuarantinedFile[] = [];
    const names = await readdir(this.dir);
    const staleTemporaries = names.filter((n) => TEMPORARY.test(n)).sort();
    for (const name of staleTemporaries) await rm(join(this.dir, name), { force: true });
    for (const name of names.filter((n) => n.endsWith(SUFFIX)).sort()) {
      const taskId = name.slice(0, -SUFFIX.length);
      const path = join(this.dir, name);
      try {
        files.push(parseRecoveryFile(await readFile(path, 'utf8'), taskId));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        quarantined.push({ taskId, movedTo: await this.quarantine(path), reason });
      }
    }
    return { files, quarantined, staleTemporaries };
  }

  private async quarantine(path: string): Promise<string> {
    const dir = join(this.dir, QUARANTINE_DIR);
    await mkdir(dir, { recursive: true, mode: PRIVATE_DIR });
    const target = join(dir, `${basename(path)}.${Date.now()}`);
    await rename(path, target);
    return target;
  }

  private async writeAtomically(taskId: string, content: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
    const temporary = join(this.dir, `.${taskId}.${randomUUID()}.tmp`);
    // Recovery files hold plans and step details: readable by the worker's user only.
    const file = await open(temporary, 'w', PRIVATE_FILE);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, this.pathOf(taskId));
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  private serialize(taskId: string, work: () => Promise<void>): Promise<void> {
    const next = (this.chains.get(taskId) ?? Promise.resolve()).then(work, work);
    const settled = next.catch(() => undefined);
    this.chains.set(taskId, settled);
    void settled.then(() => {
      if (this.chains.get(taskId) === settled) this.chains.delete(taskId);
    });
    return next;
  }
}

/** Parses and checks a recovery file; throws with a one-line reason when it cannot be trusted. */
export function parseRecoveryFile(text: string, expectedTaskId: string): RecoveryFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(text.length === 0 ? 'the file is empty' : 'the file is not JSON (truncated or damaged)');
  }
  const file = value as Partial<RecoveryFile> | null;
  if (typeof file !== 'object' || file === null || file.format !== RECOVERY_FORMAT) {
    throw new Error('the file is not a Shipdeck recovery file');
  }
  if (file.version !== RECOVERY_VERSION) {
    throw new Error(`unknown recovery file version ${String(file.version)} (this worker reads version ${RECOVERY_VERSION})`);
  }
  const task = file.task as Partial<TaskRecord> | undefined;
  if (!task || task.id !== expectedTaskId || typeof task.state !== 'string' || !Array.isArray(task.plan?.phases)) {
    throw new Error('the file does not hold a complete task');
  }
  if (typeof file.workerId !== 'string') throw new Error('the file names no worker');
  return file as RecoveryFile;
}

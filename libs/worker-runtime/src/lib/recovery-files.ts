import { randomUUID } from 'node:crypto';
import { FileHandle, access, mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
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
 * fsynced and renamed over the old one (and the directory fsynced, one fsync shared by the
 * writes of concurrent tasks), so a crash at any point leaves either the previous or the new
 * content, never a mix. Writes of one task are serialized. The directory is created once.
 */
export class RecoveryFiles {
  private readonly chains = new Map<string, Promise<void>>();
  /** The task as last handed to a write, as JSON: what {@link refresh} compares with. */
  private readonly lastWritten = new Map<string, string>();
  private readonly dirSync: DirectorySync;
  private dirReady = false;

  constructor(
    readonly dir: string,
    private readonly workerId: string,
  ) {
    this.dirSync = new DirectorySync(dir);
  }

  pathOf(taskId: string): string {
    return join(this.dir, `${taskId}${SUFFIX}`);
  }

  /** Writes the task's file (a step transition: always). */
  write(task: TaskRecord): Promise<void> {
    return this.writeJson(task.id, JSON.stringify(task));
  }

  /**
   * The periodic checkpoint: writes the task's file unless it already holds this very task (only
   * `writtenAt` would change). A file that has gone is written again.
   */
  async refresh(task: TaskRecord): Promise<void> {
    const json = JSON.stringify(task);
    if (this.lastWritten.get(task.id) === json && (await this.exists(task.id))) return;
    await this.writeJson(task.id, json);
  }

  remove(taskId: string): Promise<void> {
    this.lastWritten.delete(taskId);
    return this.serialize(taskId, () => rm(this.pathOf(taskId), { force: true }));
  }

  /** Queues the write of a task given as JSON (taken now: later changes of the task do not enter it). */
  private writeJson(taskId: string, json: string): Promise<void> {
    const header: Omit<RecoveryFile, 'task'> = {
      format: RECOVERY_FORMAT,
      version: RECOVERY_VERSION,
      workerId: this.workerId,
      writtenAt: new Date().toISOString(),
    };
    // The header's JSON with the task's appended: the text JSON.stringify({ ...header, task }) gives.
    const text = `${JSON.stringify(header).slice(0, -1)},"task":${json}}`;
    this.lastWritten.set(taskId, json);
    return this.serialize(taskId, () => this.writeAtomically(taskId, text)).catch((error: unknown) => {
      // Not on disk: the next checkpoint must write it.
      if (this.lastWritten.get(taskId) === json) this.lastWritten.delete(taskId);
      throw error;
    });
  }

  private async exists(taskId: string): Promise<boolean> {
    try {
      await access(this.pathOf(taskId));
      return true;
    } catch {
      return false;
    }
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
    const temporary = join(this.dir, `.${taskId}.${randomUUID()}.tmp`);
    const file = await this.create(temporary);
    try {
      await file.writeFile(content);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, this.pathOf(taskId));
    await this.dirSync.sync();
  }

  /** Opens a new file for writing; creates the directory at the first write and when it has gone. */
  private async create(path: string): Promise<FileHandle> {
    // Recovery files hold plans and step details: readable by the worker's user only.
    if (this.dirReady) {
      try {
        return await open(path, 'w', PRIVATE_FILE);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
    await mkdir(this.dir, { recursive: true, mode: PRIVATE_DIR });
    this.dirReady = true;
    return open(path, 'w', PRIVATE_FILE);
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

/**
 * fsync of a directory (making the renames in it durable), shared by concurrent callers: each
 * call resolves after an fsync that started after the call, so it covers what the caller did
 * before; callers arriving while one runs all wait for the same next one (a group commit).
 */
export class DirectorySync {
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    private readonly fsync: (dir: string) => Promise<void> = fsyncDirectory,
  ) {}

  sync(): Promise<void> {
    if (!this.running) return this.run();
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.run();
      });
    return this.queued;
  }

  private run(): Promise<void> {
    const running: Promise<void> = this.fsync(this.dir).finally(() => {
      if (this.running === running) this.running = undefined;
    });
    this.running = running;
    return running;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
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

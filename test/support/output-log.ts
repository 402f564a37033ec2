import { WriteStream, createWriteStream } from 'node:fs';

/** How many lines of a process's output are kept in memory (the file, when there is one, keeps all). */
const KEEP_LINES = 20_000;

/**
 * A process's output: the last lines in memory (stderr lines prefixed `[err]`), everything in a
 * log file when one is given. Harness events (start, exit, escalation to SIGKILL) are marked
 * with `---- ` lines in both.
 */
export class OutputLog {
  private readonly lines: string[] = [];
  private readonly partial: Record<string, string> = {};
  private file?: WriteStream;

  constructor(logFile?: string) {
    // Appending: every incarnation of a restarted process writes to the same file.
    if (logFile) this.file = createWriteStream(logFile, { flags: 'a' });
  }

  write(stream: 'out' | 'err', chunk: Buffer): void {
    this.file?.write(chunk);
    const text = (this.partial[stream] ?? '') + chunk.toString();
    const parts = text.split('\n');
    this.partial[stream] = parts.pop() ?? '';
    for (const line of parts) this.push(stream === 'err' ? `[err] ${line}` : line);
  }

  mark(text: string): void {
    this.file?.write(`---- ${text}\n`);
    this.push(`---- ${text}`);
  }

  /** Whether a line (complete or not) matches. */
  has(pattern: RegExp): boolean {
    return this.lines.some((l) => pattern.test(l)) || Object.values(this.partial).some((l) => pattern.test(l));
  }

  text(): string {
    const pending = Object.entries(this.partial)
      .filter(([, v]) => v !== '')
      .map(([stream, v]) => (stream === 'err' ? `[err] ${v}` : v));
    return [...this.lines, ...pending].join('\n');
  }

  /** Flushes and closes the file; the lines in memory stay readable. */
  close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    return new Promise((resolve) => (file ? file.end(resolve) : resolve()));
  }

  private push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
  }
}

/** Something whose output a failing test should show. */
export interface HasOutput {
  /** A label for the section (name, URL, pid). */
  readonly label: string;
  output(): string;
}

/** The last `lines` lines of `text`. */
export function tail(text: string, lines: number): string {
  const all = text.split('\n');
  return all.slice(Math.max(0, all.length - lines)).join('\n');
}

/** The last `lines` of each process's output, one labelled section each. */
export function describeOutput(processes: readonly HasOutput[], lines = 80): string {
  return processes.map((p) => `\n==== ${p.label} (last ${lines} lines) ====\n${tail(p.output(), lines)}`).join('\n');
}

/**
 * Wraps a test body so that a failure carries what `describe` answers (the processes' output):
 * the log lines are what explains a failed process-level test.
 */
export function withProcessOutput(describe: () => string | undefined, body: () => Promise<void>): () => Promise<void> {
  return async () => {
    try {
      await body();
    } catch (error) {
      const output = describe() ?? '(no processes were started)';
      if (error instanceof Error) {
        error.message += `\n${output}`;
        throw error;
      }
      throw new Error(`${String(error)}\n${output}`);
    }
  };
}

/** An error's message, or the thing itself as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** {@link withProcessOutput} for a few processes (the last 150 lines of each). */
export function withOutputOf(processes: () => (HasOutput | undefined)[], body: () => Promise<void>): () => Promise<void> {
  return withProcessOutput(() => describeOutput(processes().filter((p): p is HasOutput => p !== undefined), 150), body);
}

import type { TextSink } from './session';

/** Erases the current terminal line: carriage return, then clear to its end. */
const CLEAR_LINE = '\r\x1b[K';

/**
 * The progress line of a long wait, drawn at the bottom of a terminal and redrawn in place; the
 * lines printed meanwhile scroll above it. Without a terminal it draws nothing and lines are
 * printed as they are, so that logs and pipes get plain lines only.
 */
export class ProgressLine {
  private text = '';
  private readonly startedAt = Date.now();

  constructor(
    /** The terminal, or null. */
    private readonly terminal: TextSink | null,
    /** Prints one ordinary line. */
    private readonly out: (line: string) => void,
  ) {}

  /** Prints an ordinary line above the progress line. */
  line(text: string): void {
    if (this.terminal && this.text) this.terminal.write(CLEAR_LINE);
    this.out(text);
    if (this.terminal && this.text) this.terminal.write(this.text);
  }

  /** Replaces the progress line (on a terminal); `elapsed` is added to it. */
  update(text: string): void {
    if (!this.terminal) return;
    // A pseudo-terminal without a size reports 0 columns.
    const reported = (this.terminal as { columns?: number }).columns ?? 0;
    const columns = reported > 0 ? reported : 100;
    const full = `${text} · ${formatElapsed(Date.now() - this.startedAt)} elapsed`;
    this.text = full.length >= columns ? `${full.slice(0, Math.max(0, columns - 2))}…` : full;
    this.terminal.write(`${CLEAR_LINE}${this.text}`);
  }

  /** Removes the progress line for good. */
  clear(): void {
    if (this.terminal && this.text) this.terminal.write(CLEAR_LINE);
    this.text = '';
  }
}

/** `0:07`, `12:30`, `1:02:03`. */
export function formatElapsed(ms: number): string {
  const total = Math.floor(ms / 1000);
  const [h, m, s] = [Math.floor(total / 3600), Math.floor((total % 3600) / 60), total % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(s)}` : `${m}:${two(s)}`;
}

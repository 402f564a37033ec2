import { SECRET_MASK } from './secrets';

/**
 * Masks secret values in a stream of text chunks (a step's log), also where a value is split
 * across chunks: the end of a chunk that could be the start of a value is held back until the
 * next chunk (or {@link end}) tells. Values are masked longest first.
 */
export class SecretMasker {
  private readonly values: string[];
  private readonly pattern: RegExp | null;
  private pending = '';

  constructor(values: Iterable<string>) {
    this.values = [...new Set(values)].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
    this.pattern = this.values.length === 0 ? null : new RegExp(this.values.map(escapeRegExp).join('|'), 'g');
  }

  /** Whether there is anything to mask. */
  get active(): boolean {
    return this.pattern !== null;
  }

  /** The part of `chunk` (after what was held back) that can be shown now, masked. */
  write(chunk: string): string {
    if (!this.pattern) return chunk;
    const text = this.pending + chunk;
    const hold = this.holdFrom(text);
    const pattern = new RegExp(this.pattern.source, 'g');
    let shown = '';
    let position = 0;
    for (let match = pattern.exec(text); match !== null && match.index < hold; match = pattern.exec(text)) {
      shown += text.slice(position, match.index) + SECRET_MASK;
      position = match.index + match[0].length;
    }
    // A value that started before the held-back part and ends inside it is masked whole.
    const cut = Math.max(position, hold);
    this.pending = text.slice(cut);
    return shown + text.slice(position, cut);
  }

  /** What is still held back, masked: call once the stream has ended. */
  end(): string {
    const rest = this.pending;
    this.pending = '';
    return this.pattern ? rest.replace(new RegExp(this.pattern.source, 'g'), SECRET_MASK) : rest;
  }

  /** `text` masked at once (an error message): no stream state involved. */
  mask(text: string): string {
    return this.pattern ? text.replace(new RegExp(this.pattern.source, 'g'), SECRET_MASK) : text;
  }

  /** The first index from which the rest of `text` is a proper beginning of some value (text.length if none). */
  private holdFrom(text: string): number {
    const longest = this.values[0].length;
    for (let i = Math.max(0, text.length - longest + 1); i < text.length; i++) {
      const tail = text.slice(i);
      if (this.values.some((v) => v.length > tail.length && v.startsWith(tail))) return i;
    }
    return text.length;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

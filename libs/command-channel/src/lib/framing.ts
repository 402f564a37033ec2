import { MAX_FRAME_BYTES } from './protocol';

/** A decoded frame: a JSON object with a string `type`; what else it holds is checked by its reader. */
export interface Frame {
  type: string;
  [field: string]: unknown;
}

/** A frame that cannot be read: too long, not JSON, or not a message object. The connection must close. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
}

/** What one chunk of bytes yielded: the frames before any error, and the error that ends the stream. */
export interface DecodeResult {
  frames: Frame[];
  error?: FrameError;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

/**
 * Splits a byte stream into newline-delimited JSON frames. Frames may span chunks and one chunk
 * may hold many. After an error the decoder yields nothing more: the stream cannot be re-synchronised
 * with confidence, so its owner closes the connection.
 */
export class FrameDecoder {
  private buffered: Uint8Array[] = [];
  private bufferedBytes = 0;
  private failed = false;

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  push(chunk: Uint8Array): DecodeResult {
    const frames: Frame[] = [];
    if (this.failed) return { frames };
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(NEWLINE, start);
      const part = chunk.subarray(start, end === -1 ? chunk.length : end);
      // Checked before buffering, so a peer that never sends a newline cannot make memory grow.
      if (this.bufferedBytes + part.length > this.maxFrameBytes + 1) {
        return this.fail(frames, new FrameError(`frame longer than ${this.maxFrameBytes} bytes`));
      }
      if (end === -1) {
        if (part.length > 0) {
          this.buffered.push(part);
          this.bufferedBytes += part.length;
        }
        return { frames };
      }
      let line = this.bufferedBytes === 0 ? part : concat([...this.buffered, part], this.bufferedBytes + part.length);
      this.buffered = [];
      this.bufferedBytes = 0;
      start = end + 1;
      if (line.length > 0 && line[line.length - 1] === CARRIAGE_RETURN) line = line.subarray(0, -1);
      if (line.length > this.maxFrameBytes) {
        return this.fail(frames, new FrameError(`frame longer than ${this.maxFrameBytes} bytes`));
      }
      if (line.length === 0) continue;
      try {
        frames.push(parseFrame(line));
      } catch (error) {
        return this.fail(frames, error as FrameError);
      }
    }
  }

  /** Bytes of an unfinished frame still waiting for its newline. */
  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  private fail(frames: Frame[], error: FrameError): DecodeResult {
    this.failed = true;
    this.buffered = [];
    this.bufferedBytes = 0;
    return { frames, error };
  }
}

function concat(parts: Uint8Array[], length: number): Uint8Array {
  const whole = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

const utf8 = new TextDecoder('utf-8');

function parseFrame(line: Uint8Array): Frame {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(line));
  } catch (error) {
    throw new FrameError(`invalid JSON frame: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameError('invalid frame: not a JSON object');
  }
  if (typeof (value as { type?: unknown }).type !== 'string') {
    throw new FrameError('invalid frame: no string "type"');
  }
  return value as Frame;
}

/** One message as a frame: its JSON and a newline. Refuses a message longer than a frame may be. */
export function encodeFrame(message: { type: string }, maxFrameBytes = MAX_FRAME_BYTES): string {
  const json = JSON.stringify(message);
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > maxFrameBytes) {
    throw new FrameError(`${message.type} message of ${bytes} bytes is longer than a frame may be (${maxFrameBytes})`);
  }
  return `${json}\n`;
}

import { FrameDecoder, FrameError, encodeFrame } from './framing';

const bytes = (text: string) => new TextEncoder().encode(text);

describe('FrameDecoder', () => {
  it('yields every frame of a chunk, in order', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(bytes('{"type":"a","n":1}\n{"type":"b"}\n'))).toEqual({
      frames: [{ type: 'a', n: 1 }, { type: 'b' }],
    });
  });

  it('joins a frame split across chunks, also inside a multi-byte character', () => {
    const decoder = new FrameDecoder();
    const whole = bytes('{"type":"a","text":"größe ✓"}\n');
    const split = whole.indexOf(0xc3) + 1; // between the two bytes of "ö"
    expect(decoder.push(whole.subarray(0, 5)).frames).toEqual([]);
    expect(decoder.push(whole.subarray(5, split)).frames).toEqual([]);
    expect(decoder.pendingBytes).toBe(split);
    expect(decoder.push(whole.subarray(split)).frames).toEqual([{ type: 'a', text: 'größe ✓' }]);
    expect(decoder.pendingBytes).toBe(0);
  });

  it('skips empty lines and accepts CRLF line ends', () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(bytes('\n\r\n{"type":"a"}\r\n\n')).frames).toEqual([{ type: 'a' }]);
  });

  it('refuses invalid JSON, keeping the frames before it', () => {
    const decoder = new FrameDecoder();
    const result = decoder.push(bytes('{"type":"a"}\n{"type": nope}\n{"type":"c"}\n'));
    expect(result.frames).toEqual([{ type: 'a' }]);
    expect(result.error).toBeInstanceOf(FrameError);
    expect(result.error?.message).toMatch(/^invalid JSON frame: /);
    // The stream cannot be trusted any more: nothing else comes out.
    expect(decoder.push(bytes('{"type":"d"}\n'))).toEqual({ frames: [] });
  });

  it.each([
    ['an array', '[1,2]', 'not a JSON object'],
    ['a string', '"register"', 'not a JSON object'],
    ['null', 'null', 'not a JSON object'],
    ['an object without type', '{"kind":"x"}', 'no string "type"'],
    ['a numeric type', '{"type":3}', 'no string "type"'],
  ])('refuses %s', (_what, line, message) => {
    expect(new FrameDecoder().push(bytes(`${line}\n`)).error?.message).toContain(message);
  });

  it('refuses a frame over the limit, even before its newline arrives', () => {
    const decoder = new FrameDecoder(100);
    expect(decoder.push(bytes(`{"type":"a","x":"${'y'.repeat(50)}`)).error).toBeUndefined();
    const result = decoder.push(bytes('z'.repeat(60)));
    expect(result.error?.message).toBe('frame longer than 100 bytes');
    expect(decoder.pendingBytes).toBe(0);
  });

  it('accepts a frame of exactly the limit', () => {
    const frame = `{"type":"a","x":"${'y'.repeat(100 - 19)}"}`;
    expect(Buffer.byteLength(frame)).toBe(100);
    expect(new FrameDecoder(100).push(bytes(`${frame}\r\n`)).frames).toHaveLength(1);
    expect(new FrameDecoder(99).push(bytes(`${frame}\n`)).error?.message).toBe('frame longer than 99 bytes');
  });

  it('refuses a 1 MB frame by default', () => {
    const big = bytes(`{"type":"a","x":"${'y'.repeat(1024 * 1024)}"}\n`);
    expect(new FrameDecoder().push(big).error?.message).toBe('frame longer than 1048576 bytes');
  });
});

describe('encodeFrame', () => {
  it('writes one line of JSON; newlines inside values stay escaped', () => {
    const frame = encodeFrame({ type: 'a', text: 'two\nlines' } as { type: string });
    expect(frame).toBe('{"type":"a","text":"two\\nlines"}\n');
    expect(new FrameDecoder().push(bytes(frame)).frames).toEqual([{ type: 'a', text: 'two\nlines' }]);
  });

  it('refuses a message longer than a frame may be', () => {
    expect(() => encodeFrame({ type: 'reply', data: 'x'.repeat(200) } as { type: string }, 100)).toThrow(
      /reply message of \d+ bytes is longer than a frame may be \(100\)/,
    );
  });
});

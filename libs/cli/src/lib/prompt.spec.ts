import { PassThrough } from 'node:stream';
import { PromptInput, isTerminal, prompt, readFirstLine } from './prompt';

/** A terminal stand-in: a stream with raw mode, recording the raw-mode switches. */
function fakeTerminal(): { input: PassThrough & PromptInput & { setRawMode(mode: boolean): unknown }; rawModes: boolean[] } {
  const rawModes: boolean[] = [];
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: (mode: boolean) => rawModes.push(mode) });
  return { input, rawModes };
}

function sink(): { write(chunk: string): boolean; text: string } {
  return {
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

describe('prompt', () => {
  it('reads a hidden line in raw mode without echoing it, honouring backspace', async () => {
    const { input, rawModes } = fakeTerminal();
    const output = sink();
    const answer = prompt(input, output, 'Password: ', true);
    input.write('sekrx');
    input.write('\u007fet\r');
    await expect(answer).resolves.toBe('sekret');
    expect(output.text).toBe('Password: \n');
    expect(rawModes).toEqual([true, false]);
  });

  it('shows the question only once raw mode is on, so a password typed at once is not echoed by the terminal', async () => {
    const { input, rawModes } = fakeTerminal();
    const modesWhenAsked: boolean[][] = [];
    const output = sink();
    const recording = {
      write: (chunk: string) => {
        modesWhenAsked.push([...rawModes]);
        return output.write(chunk);
      },
    };
    const answer = prompt(input, recording, 'Password: ', true);
    input.write('pw\r');
    await expect(answer).resolves.toBe('pw');
    // The first write is the question: raw mode was already switched on.
    expect(modesWhenAsked[0]).toEqual([true]);
  });

  it('echoes a visible answer', async () => {
    const { input } = fakeTerminal();
    const output = sink();
    const answer = prompt(input, output, 'User: ', false);
    input.write('ada\n');
    await expect(answer).resolves.toBe('ada');
    expect(output.text).toBe('User: ada\n');
  });

  it('is cancelled by Ctrl-C and leaves raw mode', async () => {
    const { input, rawModes } = fakeTerminal();
    const answer = prompt(input, sink(), 'Password: ', true);
    input.write('ab\u0003');
    await expect(answer).rejects.toThrow('cancelled');
    expect(rawModes).toEqual([true, false]);
  });
});

describe('readFirstLine', () => {
  it('answers the first line of piped input', async () => {
    const input = new PassThrough();
    const line = readFirstLine(input);
    input.write('first');
    input.write(' line\r\nsecond\n');
    await expect(line).resolves.toBe('first line');
  });

  it('answers what came before the end when there is no line break', async () => {
    const input = new PassThrough();
    const line = readFirstLine(input);
    input.end('only');
    await expect(line).resolves.toBe('only');
  });
});

describe('isTerminal', () => {
  it('is true only for a TTY with raw mode', () => {
    expect(isTerminal(fakeTerminal().input)).toBe(true);
    expect(isTerminal(new PassThrough())).toBe(false);
    expect(isTerminal(undefined)).toBe(false);
  });
});

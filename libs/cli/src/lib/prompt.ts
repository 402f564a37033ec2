import { CliError } from './session';
import type { TextSink } from './session';

/** The CLI's standard input: a terminal (with raw mode) or a pipe. */
export type PromptInput = NodeJS.ReadableStream & {
  readonly isTTY?: boolean;
  /** Terminals only: raw mode, so that a password is read without being echoed. */
  setRawMode?(mode: boolean): unknown;
};

const ENTER = new Set(['\r', '\n']);
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = new Set(['\u007f', '\b']);

/** Whether `input` is a terminal a person can type into. */
export function isTerminal(input: PromptInput | undefined): input is PromptInput & { setRawMode(mode: boolean): unknown } {
  return input?.isTTY === true && typeof input.setRawMode === 'function';
}

/**
 * Asks `question` on `output` (stderr, so that stdout stays the command's result) and reads one
 * line from the terminal `input`; with `hidden`, nothing typed is echoed (a password). Ctrl-C
 * cancels.
 */
export function prompt(input: PromptInput & { setRawMode(mode: boolean): unknown }, output: TextSink, question: string, hidden: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (result: () => void) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      result();
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ENTER.has(ch) || ch === CTRL_D) {
          finish(() => resolve(value));
          return;
        }
        if (ch === CTRL_C) {
          finish(() => reject(new CliError('cancelled')));
          return;
        }
        if (BACKSPACE.has(ch)) {
          if (value.length > 0 && !hidden) output.write('\b \b');
          value = value.slice(0, -1);
          continue;
        }
        value += ch;
        if (!hidden) output.write(ch);
      }
    };
    input.setEncoding('utf8');
    input.setRawMode(true);
    input.on('data', onData);
    input.resume();
    // The question only once raw mode is on: whatever is typed as soon as it shows (a password)
    // must not meet a terminal still in cooked mode, which would echo it.
    output.write(question);
  });
}

/**
 * The first line of a piped `input` (e.g. `echo "$PASSWORD" | shipdeck login`), without its line
 * end; reads until the line ends or the input does.
 */
export function readFirstLine(input: PromptInput): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (result: () => void) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      result();
    };
    const onData = (chunk: string) => {
      text += chunk;
      const end = text.search(/\r?\n/);
      if (end >= 0) done(() => resolve(text.slice(0, end)));
    };
    const onEnd = () => done(() => resolve(text.replace(/\r?\n$/, '')));
    const onError = (error: Error) => done(() => reject(new CliError(`cannot read standard input: ${error.message}`)));
    input.setEncoding('utf8');
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

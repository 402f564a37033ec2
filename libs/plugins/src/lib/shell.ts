import { ChildProcess, spawn } from 'node:child_process';
import { errorMessage } from './error-text';

/** How to run one shell command for a step. */
export interface ShellCommand {
  /** Passed to `/bin/sh -c`. */
  command: string;
  cwd: string;
  /** Added to the minimal step environment ({@link stepEnvironment}); never the worker's own. */
  env?: Record<string, string>;
  /** Kill the command after this long; none when undefined. */
  timeoutMs?: number;
  signal: AbortSignal;
  /** Receives stdout and stderr as they arrive. */
  log(text: string): void;
}

/** The shell every step command runs in. */
export const SHELL = '/bin/sh';

/** How long to wait for the output pipes to close once the command's process group is gone. */
const PIPE_CLOSE_GRACE_MS = 5_000;

/**
 * Runs `/bin/sh -c COMMAND` in its own process group and resolves when it exits with code 0.
 *
 * Nothing outlives the call: on abort, on timeout and also after a normal exit the whole process
 * group is killed with SIGKILL, so background children (`sleep 100 &`) die too. A long-running
 * service must leave the group itself (`setsid ./server &`). Rejects with the exit code or
 * signal, the timeout, or the abort.
 */
export function runShell(options: ShellCommand): Promise<void> {
  const { signal, log, timeoutMs } = options;
  if (signal.aborted) return Promise.reject(new Error('aborted before the command started'));

  return new Promise<void>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(SHELL, ['-c', options.command], {
        cwd: options.cwd,
        env: stepEnvironment(options.env),
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      reject(new Error(`cannot run the command: ${errorMessage(error)}`));
      return;
    }

    let failure: Error | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let settled = false;
    let graceTimer: NodeJS.Timeout | undefined;

    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is already empty.
      }
    };
    const stopWith = (error: Error) => {
      failure ??= error;
      killGroup();
    };
    const onAbort = () => stopWith(new Error('aborted'));
    const timeoutTimer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => stopWith(new Error(`timed out after ${formatMs(timeoutMs)}`)), timeoutMs);

    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      clearTimeout(graceTimer);
      signal.removeEventListener('abort', onAbort);
      if (failure) reject(failure);
      else if (!exit) reject(new Error('the command did not run'));
      else if (exit.code === 0) resolve();
      else if (exit.code !== null) reject(new Error(`command exited with code ${exit.code}`));
      else reject(new Error(`command was killed by signal ${exit.signal}`));
    };

    signal.addEventListener('abort', onAbort, { once: true });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => log(text));
    }
    child.on('error', (error) => {
      // Spawn failures (missing cwd…) come here and no 'exit' follows.
      failure ??= new Error(`cannot run the command: ${errorMessage(error)}`);
      if (child.pid === undefined) finish();
    });
    child.on('exit', (code, exitSignal) => {
      exit = { code, signal: exitSignal };
      killGroup();
      // A process that left the group may still hold the pipes open; do not wait for it forever.
      graceTimer = setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      }, PIPE_CLOSE_GRACE_MS);
    });
    child.on('close', finish);
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * The variables of the worker's own environment a step inherits: enough to find programs and
 * behave like a login on the machine, and nothing of Shipdeck's (no `SHIPDECK_DB_URL`, no queue
 * URL, no cluster secret). Documented in docs/plugins.md.
 */
export const INHERITED_VARIABLES: readonly string[] = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/** Used when the worker itself has no PATH. */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The environment of a step's command: {@link INHERITED_VARIABLES} from the worker (PATH always
 * set), `SHELL=/bin/sh`, then `extra` (the step's own `env`, placeholder values).
 */
export function stepEnvironment(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = { PATH: DEFAULT_PATH, SHELL };
  for (const name of INHERITED_VARIABLES) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Where in shell text a position is, as far as quoting goes. */
export type ShellQuoting = 'unquoted' | 'single' | 'double';

/**
 * The quoting in force at the end of `text`, read as `/bin/sh` reads it: `'…'`, `"…"`, backslash
 * escapes, and `$(…)` / backticks, which start unquoted text of their own even inside double
 * quotes. Used only to choose how a variable reference is written; a reference is safe in any
 * context, so a misreading (of a here-document, say) can garble the value but never run it.
 */
export function shellQuotingAt(text: string): ShellQuoting {
  const stack: ('single' | 'double' | 'paren' | 'backtick')[] = [];
  const top = () => stack[stack.length - 1];
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const context = top();
    if (context === 'single') {
      if (c === "'") stack.pop();
      continue;
    }
    if (c === '\\') {
      i++;
      continue;
    }
    if (context === 'double') {
      if (c === '"') stack.pop();
      else if (c === '$' && text[i + 1] === '(') {
        stack.push('paren');
        i++;
      } else if (c === '`') stack.push('backtick');
      continue;
    }
    // Unquoted, at the top or inside a command substitution.
    if (c === "'") stack.push('single');
    else if (c === '"') stack.push('double');
    else if (c === '$' && text[i + 1] === '(') {
      stack.push('paren');
      i++;
    } else if (c === ')' && context === 'paren') stack.pop();
    else if (c === '`') {
      if (context === 'backtick') stack.pop();
      else stack.push('backtick');
    }
  }
  const context = top();
  return context === 'single' ? 'single' : context === 'double' ? 'double' : 'unquoted';
}

/**
 * How to write a reference to the environment variable `name` at the end of `textBefore` so
 * that the shell expands it to exactly its value, as one word: `"${NAME}"` unquoted,
 * `${NAME}` inside double quotes, `'"${NAME}"'` inside single quotes (close, expand, reopen).
 * The value itself never appears in the text, so it is never parsed as code.
 */
export function shellVariableReference(name: string, textBefore: string): string {
  switch (shellQuotingAt(textBefore)) {
    case 'double':
      return `\${${name}}`;
    case 'single':
      return `'"\${${name}}"'`;
    default:
      return `"\${${name}}"`;
  }
}

/**
 * A step log writer that passes on at most `maxBytes` (UTF-8) of text and then writes one line
 * saying how much was left out, so that one chatty command cannot fill the disk. The first
 * output is kept: it usually says what went wrong first.
 */
export function cappedLog(log: (text: string) => void, maxBytes: number): { write(text: string): void; end(): void } {
  let written = 0;
  let dropped = 0;
  return {
    write(text: string) {
      if (dropped > 0) {
        dropped += Buffer.byteLength(text, 'utf8');
        return;
      }
      const bytes = Buffer.byteLength(text, 'utf8');
      if (written + bytes <= maxBytes) {
        written += bytes;
        log(text);
        return;
      }
      const room = maxBytes - written;
      const kept = Buffer.from(text, 'utf8').subarray(0, room).toString('utf8').replace(/\uFFFD$/, '');
      written = maxBytes;
      if (kept) log(kept);
      dropped = bytes - Buffer.byteLength(kept, 'utf8');
    },
    end() {
      if (dropped > 0) log(`\n[output truncated: ${dropped} more bytes not logged; the step log keeps at most ${maxBytes} bytes of output]\n`);
    },
  };
}

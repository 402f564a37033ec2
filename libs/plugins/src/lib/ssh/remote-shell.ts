import { StringDecoder } from 'node:string_decoder';
import type { ClientChannel } from 'ssh2';
import { errorMessage } from '../error-text';
import { SshConnection } from './connection';

/** One command to run on a remote host for a step. */
export interface RemoteShellCommand {
  /** Passed to `/bin/sh -c` on the remote host. */
  command: string;
  /** Absolute remote directory; the (sudo) user's home when undefined. */
  cwd?: string;
  /** Exported to the command; names must be shell identifiers. Values are quoted, never interpreted. */
  env?: Record<string, string>;
  /** Run as this user through `sudo -n -H -u`. */
  sudo?: string;
  timeoutMs?: number;
  /**
   * Names the step ({@link stepMarker}): the next run of the same step then reports (and ends) a
   * process group a killed worker left running. None for helper commands.
   */
  marker?: string;
  signal: AbortSignal;
  /** Receives stdout and stderr as they arrive. */
  log(text: string): void;
}

/** The first line the wrapper prints: the process group the command runs in. */
const PGID_LINE = /^shipdeck-pgid (\d+)\n/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** How long the kill of the remote process group may take before the step gives up on it. */
const KILL_TIMEOUT_MS = 10_000;

/** `value` as one single-quoted word for a POSIX shell: nothing in it is expanded or interpreted. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The prefix that runs a program as `user` through sudo without ever prompting, or nothing. */
export function sudoPrefix(user: string | undefined): string {
  return user === undefined ? '' : `sudo -n -H -u ${shellQuote(user)} -- `;
}

/** Where the wrapper notes the process group of each running step, under the (sudo) user's home. */
const MARKER_DIR = '"$HOME/.shipdeck/steps"';

/** A marker file name from a step's identity: only characters no shell or path interprets. */
export function stepMarker(taskId: string, stepPath: string): string {
  return `${taskId}_${stepPath}`.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * What the wrapper does first when a marker of an earlier run of the same step is still there
 * (its worker was killed or lost the connection before it could end the command): end that run's
 * process group when it provably belongs to the step (its leader carries SHIPDECK_STEP=<marker>),
 * and say so in the step's log.
 */
function leftoverCheck(marker: string): string[] {
  return [
    `marker=${MARKER_DIR}/${shellQuote(marker)}`,
    'if [ -f "$marker" ]; then',
    '  old=$(cat "$marker")',
    `  if [ -r "/proc/$old/environ" ] && tr '\\0' '\\n' < "/proc/$old/environ" | grep -qx ${shellQuote(`SHIPDECK_STEP=${marker}`)}; then`,
    '    kill -KILL -"$old" 2>/dev/null',
    '    echo "shipdeck: an earlier run of this step left remote process group $old running (its worker stopped without ending it); killed it" >&2',
    '  elif kill -0 -"$old" 2>/dev/null; then',
    '    echo "shipdeck: an earlier run of this step may have left remote process group $old running; it could not be verified, so it was left alone" >&2',
    '  else',
    '    echo "shipdeck: an earlier run of this step was not ended by its worker; none of its processes is left" >&2',
    '  fi',
    '  rm -f "$marker"',
    'fi',
    `mkdir -p ${MARKER_DIR} 2>/dev/null`,
    `export SHIPDECK_STEP=${shellQuote(marker)}`,
  ];
}

/**
 * The text sent to the remote login shell. The command runs in a new session (`setsid`), whose
 * process group id the wrapper prints first, so that abort, timeout and the end of the command
 * can kill everything it started, not only the channel. With a marker, the group id is also
 * written to a file that lives as long as the command, so the next run of the same step can tell
 * whether a crashed worker left it running. The command, directory, marker and environment values
 * travel as single-quoted words, so no value can become shell code of the wrapper.
 */
export function remoteScript(command: RemoteShellCommand): string {
  const lines: string[] = [];
  for (const [name, value] of Object.entries(command.env ?? {})) {
    if (!ENV_NAME.test(name)) throw new Error(`environment variable name ${JSON.stringify(name)} is not a shell identifier`);
    lines.push(`export ${name}=${shellQuote(value)}`);
  }
  if (command.marker !== undefined) lines.push(...leftoverCheck(command.marker));
  else lines.push('marker=/dev/null');
  lines.push(command.cwd === undefined ? 'cd -- "$HOME" 2>/dev/null || cd /' : `cd -- ${shellQuote(command.cwd)} || exit 126`);
  lines.push(
    `exec setsid -w /bin/sh -c 'echo "shipdeck-pgid $$"; { echo $$ > "$2"; } 2>/dev/null; exec /bin/sh -c "$1"' shipdeck-step ${shellQuote(command.command)} "$marker"`,
  );
  return `${sudoPrefix(command.sudo)}/bin/sh -c ${shellQuote(lines.join('\n'))}`;
}

/** What ends a command's process group and forgets its marker. */
function killScript(pgid: number, marker: string | undefined): string {
  const forget = marker === undefined ? '' : ` rm -f ${MARKER_DIR}/${shellQuote(marker)};`;
  // `kill -KILL -PGID` through /bin/sh: dash's builtin kill refuses `--`, and sudo runs the same shell.
  return `/bin/sh -c ${shellQuote(`kill -KILL -${pgid} 2>/dev/null;${forget} true`)}`;
}

/**
 * Starts `script` and hands the channel to `attach` synchronously, inside ssh2's callback: when
 * the whole answer of a fast command arrives in one read, its 'exit' event is emitted right after,
 * before any continuation of a promise could attach listeners.
 */
function exec(connection: SshConnection, script: string, attach: (channel: ClientChannel) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      connection.client.exec(script, (error, channel) => {
        if (error) reject(new Error(`cannot start a remote command on ${connection.hostName}: ${errorMessage(error)}`));
        else {
          attach(channel);
          resolve();
        }
      });
    } catch (error) {
      // ssh2 throws synchronously when the connection is no longer writable.
      reject(new Error(`cannot start a remote command on ${connection.hostName}: ${errorMessage(error)}`));
    }
  });
}

/**
 * Runs a short helper command (no streaming, no process group) and answers its stdout; rejects
 * with stderr when it exits non-zero.
 */
export function runQuick(connection: SshConnection, script: string, timeoutMs = KILL_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    let code: number | null = null;
    const attach = (channel: ClientChannel) => {
      const timer = setTimeout(() => {
        channel.close();
        reject(new Error(`remote helper command did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      channel.setEncoding('utf8');
      channel.stderr.setEncoding('utf8');
      channel.on('data', (text: string) => (stdout += text));
      channel.stderr.on('data', (text: string) => (stderr += text));
      channel.on('exit', (exitCode: number | null) => (code = exitCode));
      channel.on('close', () => {
        clearTimeout(timer);
        if (code === 0) resolve(stdout);
        else reject(new Error(`remote command exited with ${code === null ? 'a signal' : `code ${code}`}: ${stderr.trim() || stdout.trim()}`));
      });
    };
    exec(connection, script, attach).catch(reject);
  });
}

/**
 * Runs a command on the remote host like {@link runShell} does locally: resolves when it exits
 * with code 0, streams its output to `log` as it arrives, and leaves nothing running — on abort,
 * on timeout and after a normal exit its whole process group is killed with SIGKILL. Rejects
 * with the exit code or signal, the timeout, the abort, or the loss of the connection.
 */
export function runRemoteShell(connection: SshConnection, command: RemoteShellCommand): Promise<void> {
  const { signal, log, timeoutMs } = command;
  if (signal.aborted) return Promise.reject(new Error('aborted before the command started'));
  if (connection.lost !== undefined) return Promise.reject(new Error(`the connection to ${connection.hostName} is gone: ${connection.lost}`));
  let script: string;
  try {
    script = remoteScript(command);
  } catch (error) {
    return Promise.reject(error);
  }
  return new Promise<void>((resolve, reject) => {
    let channel: ClientChannel | undefined;
    let pgid: number | undefined;
    let head = '';
    let failure: Error | undefined;
    let exit: { code: number | null; signal: string | undefined } | undefined;
    let settled = false;
    let killing: Promise<void> | undefined;

    const killGroup = (): Promise<void> => {
      if (pgid === undefined || pgid <= 0 || connection.lost !== undefined) return Promise.resolve();
      // Once per command: the group id could be reused by another process after it is gone.
      killing ??= runQuick(connection, `${sudoPrefix(command.sudo)}${killScript(pgid, command.marker)}`).then(
        () => undefined,
        (error: unknown) => log(`could not kill the remote process group ${pgid}: ${errorMessage(error)}\n`),
      );
      return killing;
    };
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timeoutTimer);
      signal.removeEventListener('abort', onAbort);
      stopWatchingConnection();
      if (failure) reject(failure);
      else if (!exit) {
        const lost = connection.lost === undefined ? '' : ` (${connection.lost})`;
        reject(new Error(`the remote command on ${connection.hostName} ended without an exit status${lost}`));
      }
      else if (exit.code === 0) resolve();
      else if (exit.code !== null) reject(new Error(`command exited with code ${exit.code}`));
      else reject(new Error(`command was killed by signal ${exit.signal ?? 'unknown'}`));
    };
    const stopWith = (error: Error) => {
      failure ??= error;
      void killGroup().then(() => {
        // Without a channel yet, the group is killed when its id arrives and 'close' finishes.
        if (!channel) return;
        channel.close();
        finish();
      });
    };
    const onAbort = () => stopWith(new Error('aborted'));
    const timeoutTimer =
      timeoutMs === undefined ? undefined : setTimeout(() => stopWith(new Error(`timed out after ${formatMs(timeoutMs)}`)), timeoutMs);
    const stopWatchingConnection = connection.onLost((reason) => {
      failure ??= new Error(
        `lost the connection to ${connection.hostName} while the command ran (${reason}); ` +
          'the remote command may still be running',
      );
      finish();
    });
    signal.addEventListener('abort', onAbort, { once: true });

    const attach = (opened: ClientChannel) => {
      channel = opened;
      const stdout = new StringDecoder('utf8');
      const stderr = new StringDecoder('utf8');
      opened.on('data', (chunk: Buffer) => {
        const text = stdout.write(chunk);
        if (pgid !== undefined) {
          if (text) log(text);
          return;
        }
        head += text;
        const match = PGID_LINE.exec(head);
        if (match) {
          pgid = Number(match[1]);
          const rest = head.slice(match[0].length);
          head = '';
          if (rest) log(rest);
          // The stop or the exit may have come before the group id: kill now.
          if (signal.aborted || failure || exit) void killGroup();
        } else if (head.includes('\n') || head.length > 64) {
          // The wrapper did not start as expected (no setsid?): show what came instead.
          log(head);
          head = '';
          pgid = -1;
        }
      });
      opened.stderr.on('data', (chunk: Buffer) => {
        const text = stderr.write(chunk);
        if (text) log(text);
      });
      opened.on('exit', (code: number | null, exitSignal?: string) => {
        exit = { code, signal: exitSignal };
        // Background children (`sleep 100 &`) die with the command, as locally.
        void killGroup();
      });
      opened.on('close', () => {
        if (head) log(head);
        void (killing ?? Promise.resolve()).then(finish);
      });
    };
    exec(connection, script, attach).catch((error: Error) => {
      failure ??= error;
      finish();
    });
  });
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

import { Writable } from 'node:stream';
import winston from 'winston';

/** Log levels, most severe first (winston's npm levels). `log.level` accepts exactly these. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** Formats of a log line (`log.format`): readable text, or one JSON object per line. */
export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Structured fields of a log line (`taskId`, `error`, …). */
export type LogMeta = Record<string, unknown>;

/**
 * The logging every library depends on: four levels and children that add fields to each of their
 * lines. The implementation (winston, see {@link createLogger}) stays inside this library; a
 * `winston.Logger` fits this interface, and so does any object with these methods (tests).
 */
export interface Logger {
  error(message: string, meta?: LogMeta): unknown;
  warn(message: string, meta?: LogMeta): unknown;
  info(message: string, meta?: LogMeta): unknown;
  debug(message: string, meta?: LogMeta): unknown;
  /** A logger whose every line carries `meta` too, in the same format and at the same level. */
  child(meta: LogMeta): Logger;
}

/**
 * The levels of a {@link Logger} without `child`: what a component that never derives children
 * asks for (the AMQP adapter, which tests hand plain objects with these four methods).
 */
export type LevelLogger = Omit<Logger, 'child'>;

/** The root logger of a process as {@link createLogger} makes it (a winston logger). */
export type ProcessLogger = winston.Logger;

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** The least severe level written. Default `info`. */
  level?: LogLevel;
  /**
   * JSON lines (one object per line with `timestamp`, `level`, `component`, `message` and the
   * fields of the call and of its child loggers: `taskId`, `stepPath`, `requestId`, `workerId`…,
   * for log collectors) when true; readable single lines
   * (`HH:MM:SS.mmm level [component] message key=value…`) when false. Processes pass
   * `log.format === 'json'`.
   */
  json: boolean;
  /** The component shown on every line (`component`), e.g. `master` or `worker`. */
  name: string;
  /** Where lines go. Default: standard output. */
  stream?: Writable;
}

/** Metadata keys the readable format shows in its own way, not as `key=value`. */
const RESERVED_KEYS = new Set(['level', 'message', 'component', 'taskId', 'stepPath', 'timestamp', 'stack', 'splat']);

/** Creates the root logger of a process. */
export function createLogger(options: LoggerOptions): ProcessLogger {
  const format = options.json
    ? winston.format.combine(
        winston.format.errors({ stack: true }),
        winston.format.timestamp(),
        serializeErrors(),
        winston.format.json(),
      )
    : winston.format.combine(winston.format.errors({ stack: true }), winston.format.printf(readableLine));
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const logger = winston.createLogger({
    level: options.level ?? 'info',
    levels: winston.config.npm.levels,
    defaultMeta: { component: options.name },
    format,
    transports: [transport],
  });
  dropDisabledLevelsAtTheCall(logger);
  return logger;
}

/**
 * winston pipes every line through its streams and only then drops one below the level: a debug
 * line on a hot path cost as much as a written one. The level methods (inherited by children)
 * now drop such a line at the call; the level is read at each call, so changing it still works.
 */
function dropDisabledLevelsAtTheCall(logger: winston.Logger): void {
  for (const level of LOG_LEVELS) {
    const write = logger[level];
    logger[level] = function (this: winston.Logger | undefined, ...args: Parameters<winston.LeveledLogMethod>) {
      const self = this ?? logger;
      return self.isLevelEnabled(level) ? write.apply(self, args) : self;
    } as winston.LeveledLogMethod;
  }
}

/**
 * Writes a notice for the person at the console, outside the log (never to its transports): the
 * text as it is for readable logs, one JSON object shaped like a log line for JSON logs, so that a
 * log collector reading the output still reads one JSON object per line.
 */
export function writeConsoleNotice(options: Pick<LoggerOptions, 'json' | 'name'>, text: string, stream: { write(chunk: string): unknown } = process.stdout): void {
  if (!options.json) {
    stream.write(text);
    return;
  }
  const message = text.trim().replace(/\n\s*/g, ' ');
  stream.write(`${JSON.stringify({ timestamp: new Date().toISOString(), level: 'info', component: options.name, message })}\n`);
}

/**
 * A child of `logger` whose every line carries `taskId` (and `stepPath` when given); the readable
 * format shows them as `[task ID step PATH]`.
 */
export function taskLogger(logger: Logger, taskId: string, stepPath?: string): Logger {
  return logger.child(stepPath === undefined ? { taskId } : { taskId, stepPath });
}

/** JSON.stringify turns an Error into `{}`; keep what a reader needs instead. */
const serializeErrors = winston.format((info) => {
  for (const [key, value] of Object.entries(info)) {
    if (value instanceof Error) info[key] = errorFields(value);
  }
  return info;
});

function errorFields(error: Error): Record<string, unknown> {
  const code = (error as { code?: unknown }).code;
  return { name: error.name, message: error.message, ...(code === undefined ? {} : { code }), stack: error.stack };
}

/**
 * Characters that could forge or disguise a log line: C0 and C1 controls (newline, carriage
 * return, escape sequences, NUL), DEL, bidi embeddings, overrides and isolates, and the Unicode
 * line and paragraph separators.
 */
const UNSAFE_CHARACTERS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with every character of {@link UNSAFE_CHARACTERS} written as an escape (`\n`, `\u202e`),
 * so that one log call is one line and reads as what it is, whatever input it quotes.
 */
export function escapeControlCharacters(text: string): string {
  return text.replace(UNSAFE_CHARACTERS, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

function readableLine(info: winston.Logform.TransformableInfo): string {
  const parts = [clock(new Date()), info.level.padEnd(5)];
  if (typeof info['component'] === 'string') parts.push(`[${escapeControlCharacters(info['component'])}]`);
  if (info['taskId'] !== undefined) {
    const task = escapeControlCharacters(String(info['taskId']));
    parts.push(info['stepPath'] === undefined ? `[task ${task}]` : `[task ${task} step ${escapeControlCharacters(String(info['stepPath']))}]`);
  }
  parts.push(escapeControlCharacters(String(info.message)));
  for (const [key, value] of Object.entries(info)) {
    if (!RESERVED_KEYS.has(key) && value !== undefined) parts.push(`${escapeControlCharacters(key)}=${formatValue(value)}`);
  }
  const line = parts.join(' ');
  return typeof info['stack'] === 'string' ? `${line}\n${stackLines(info['stack'])}` : line;
}

/**
 * A stack trace keeps its lines, each escaped and indented, so that an error message quoting
 * input with a newline cannot start a line that looks like a log entry of its own.
 */
function stackLines(stack: string): string {
  return stack
    .split('\n')
    .map((line) => `    ${escapeControlCharacters(line.trimStart())}`)
    .join('\n');
}

function clock(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return escapeControlCharacters(JSON.stringify(value.message));
  if (typeof value === 'string') return escapeControlCharacters(/^[^\s"=]+$/.test(value) ? value : JSON.stringify(value));
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object' && value !== null) return escapeControlCharacters(JSON.stringify(value) ?? String(value));
  return escapeControlCharacters(String(value));
}

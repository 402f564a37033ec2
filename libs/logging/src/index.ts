export { LOG_FORMATS, LOG_LEVELS, createLogger, taskLogger, writeConsoleNotice } from './lib/logger';
export type { LevelLogger, LogFormat, LogLevel, LogMeta, Logger, LoggerOptions, ProcessLogger } from './lib/logger';
export { redactUrl } from './lib/redact';

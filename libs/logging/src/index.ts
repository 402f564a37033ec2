export { LOG_LEVELS, createLogger, taskLogger } from './lib/logger';
export type { LevelLogger, LogLevel, LogMeta, Logger, LoggerOptions, ProcessLogger } from './lib/logger';
export { redactUrl } from './lib/redact';

import { Writable } from 'node:stream';
import { Logger, createLogger } from '@shipdeck/logging';

/** One line written by {@link memoryLogger}. */
export interface LogEntry {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** A JSON logger at debug level whose entries land in `entries`. */
export function memoryLogger(): { logger: Logger; entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      entries.push(JSON.parse(chunk.toString()) as LogEntry);
      callback();
    },
  });
  return { logger: createLogger({ level: 'debug', json: true, name: 'rest-test', stream }), entries };
}

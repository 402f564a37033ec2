import { Writable } from 'node:stream';
import { createLogger, Logger } from '@shipdeck/logging';
import { InMemoryAuthStore } from './in-memory-auth-store';
import { StoreAuditRecorder } from '../lib/audit';
import { AuthService } from '../lib/auth-service';
import { LoginRateLimiter } from '../lib/rate-limit';

/** Cheap scrypt parameters for tests (the defaults are tested in passwords.spec.ts). */
export const FAST_SCRYPT = { ln: 4, r: 8, p: 1 };

/** A logger whose lines the test can read. */
export function capturingLogger(): { logger: Logger; lines: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString('utf8');
      done();
    },
  });
  return { logger: createLogger({ json: true, name: 'auth-test', level: 'debug', stream }), lines: () => text };
}

/** An AuthService over an in-memory store with a clock the test moves. */
export function authKit(options: { limiter?: LoginRateLimiter } = {}) {
  const store = new InMemoryAuthStore();
  const clock = { now: new Date('2026-03-01T12:00:00.000Z') };
  const { logger, lines } = capturingLogger();
  const auth = new AuthService({
    store,
    logger,
    audit: new StoreAuditRecorder(store),
    now: () => clock.now,
    scrypt: FAST_SCRYPT,
    limiter: options.limiter,
  });
  const advance = (ms: number) => {
    clock.now = new Date(clock.now.getTime() + ms);
  };
  return { store, auth, clock, advance, logger, lines };
}

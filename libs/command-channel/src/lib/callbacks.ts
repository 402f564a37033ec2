import { Logger } from '@shipdeck/logging';

/**
 * Runs a caller's callback (`onRegister`, `onWelcome`…): what it throws, or the promise it answers
 * rejects with, is logged, never thrown into the socket code that called it.
 */
export function runCallback(logger: Logger, name: string, run: () => unknown): void {
  const fail = (error: unknown) => logger.error(`command channel ${name} callback failed`, { error });
  try {
    const result = run();
    if (result instanceof Promise) result.catch(fail);
  } catch (error) {
    fail(error);
  }
}

import { Logger } from '@shipdeck/logging';

/**
 * Closes what a process opened, in reverse order, once. Every step runs even when an earlier one
 * fails; SIGTERM and SIGINT end the process with 0 after a clean shutdown.
 */
export class Shutdown {
  private readonly steps: { name: string; close: () => Promise<void> | void }[] = [];
  private closing: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(name: string, close: () => Promise<void> | void): void {
    this.steps.push({ name, close });
  }

  onSignals(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        this.logger.info(`${signal} received: shutting down`);
        void this.close().then(() => process.exit(0));
      });
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const step of [...this.steps].reverse()) {
        try {
          await step.close();
        } catch (error) {
          this.logger.warn(`closing ${step.name} failed`, { error: String(error) });
        }
      }
    })();
    return this.closing;
  }
}

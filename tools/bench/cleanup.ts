/**
 * What the run must undo (processes, schema, queue, temp dirs), undone in reverse order exactly
 * once: at the end, on an error, on Ctrl-C or SIGTERM. A second Ctrl-C while cleaning up leaves
 * at once.
 */
export class Cleanup {
  private readonly steps: { name: string; undo: () => Promise<void> | void }[] = [];
  private running?: Promise<void>;
  /** A signal arrived: the run is being torn down, its failures are expected and not worth a word. */
  interrupted = false;

  constructor(private readonly log: (line: string) => void) {}

  add(name: string, undo: () => Promise<void> | void): void {
    this.steps.push({ name, undo });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const { name, undo } of this.steps.splice(0).reverse()) {
        try {
          await undo();
        } catch (error) {
          this.log(`cleanup: ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    })();
    return this.running;
  }

  /** SIGINT and SIGTERM clean up, then exit with 128 + the signal number. */
  onSignals(): void {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      process.on(signal, () => {
        if (this.interrupted) {
          this.log(`${signal} again: leaving without finishing the cleanup`);
          process.exit(code);
        }
        this.interrupted = true;
        this.log(`${signal}: stopping the cluster and cleaning up (again to leave at once)`);
        void this.run().finally(() => process.exit(code));
      });
    }
  }
}

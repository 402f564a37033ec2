import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Cluster } from '../support/cluster';
import { pollUntil } from '../support/poll';
import { ExitStatus } from '../support/shipdeck-process';
import { WorkerProcess } from '../support/worker-process';

/**
 * One worker identity of a cluster (name, work directory, worker id) across process
 * incarnations: killed and started again on the same work directory, where it finds its recovery
 * files. Every incarnation appends to the same log file, `<logDir>/<name>.log`.
 */
export class ChaosWorker {
  /** Every process started, oldest first. */
  readonly incarnations: WorkerProcess[] = [];
  readonly logFile: string;

  constructor(
    private readonly cluster: Cluster,
    readonly name: string,
    private readonly env: Record<string, string>,
  ) {
    this.logFile = join(cluster.logDir, `${name}.log`);
  }

  get current(): WorkerProcess | undefined {
    return this.incarnations[this.incarnations.length - 1];
  }

  /** Whether the current process runs. */
  get alive(): boolean {
    return this.current !== undefined && this.current.status === undefined;
  }

  /** The worker id kept in the work directory. */
  get id(): string | undefined {
    return this.current?.id;
  }

  /** Starts a process (on the same work directory after the first) and waits until it consumes; `api` is a live master. */
  async start(api: string): Promise<WorkerProcess> {
    const current = this.current;
    if (current && current.status === undefined) throw new Error(`${this.name} (pid ${current.pid}) still runs`);
    const worker = current
      ? await this.cluster.restartWorker(current, { api })
      : await this.cluster.addWorker({ name: this.name, api, env: this.env, workDir: join(this.cluster.root, 'work', this.name), readyTimeoutMs: 60_000 });
    this.incarnations.push(worker);
    return worker;
  }

  /** Signals the current process and waits for its exit (at once when none runs). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitStatus | undefined> {
    const current = this.current;
    if (!current || current.status) return current?.status;
    return current.kill(signal);
  }

  /** Waits until the log file holds the exit line of the last incarnation: everything it wrote before is in the file then. */
  async logComplete(timeoutMs = 10_000): Promise<void> {
    const last = this.current;
    if (!last) return;
    if (!last.status) throw new Error(`${this.name} (pid ${last.pid}) still runs`);
    const marker = `process ${last.pid} exited`;
    await pollUntil(() => existsSync(this.logFile) && readFileSync(this.logFile, 'utf8').includes(marker), {
      timeoutMs,
      intervalMs: 50,
      describe: () => `${this.logFile} lacks "${marker}" after ${timeoutMs} ms`,
    });
  }

  /** Lines of the log file (all incarnations) matching `pattern`. */
  logLines(pattern: RegExp): string[] {
    if (!existsSync(this.logFile)) return [];
    return readFileSync(this.logFile, 'utf8')
      .split('\n')
      .filter((l) => pattern.test(l));
  }
}

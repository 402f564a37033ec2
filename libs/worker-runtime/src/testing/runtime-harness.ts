import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@shipdeck/logging';
import { Stores, openStores } from '@shipdeck/persistence';
import { InProcessTaskQueue, TASK_MESSAGE_VERSION, TaskQueue } from '@shipdeck/queue';
import { StepContext, StepExecutorLookup, TaskRecord, buildPlan } from '@shipdeck/tasks';
import { WorkerRuntime } from '../lib/worker-runtime';
import { WorkerRuntimeOptions } from '../lib/worker-runtime-options';
import { ManualClock } from './manual-clock';

export const CONFIG_HASH = 'config-hash-of-the-test';
const logger = createLogger({ level: 'error', json: false, name: 'runtime-test' });

/** A step as the test executor ran it. */
export interface StartedStep {
  taskId: string;
  step: string;
  /** The work directory of the runtime that ran it: which worker. */
  workDir: string;
}

/**
 * The step executor of the tests: a step whose description is in `gated` waits until the test
 * opens it (or the run is aborted: then it fails, as a killed command would); others succeed.
 */
export class GatedSteps {
  readonly started: StartedStep[] = [];
  readonly killed: StartedStep[] = [];
  readonly gated = new Set<string>();
  private readonly gates = new Map<string, () => void>();

  readonly lookup: StepExecutorLookup = () => ({ execute: (context) => this.execute(context) });

  /** Lets a gated step of a task finish. */
  open(taskId: string, description: string): void {
    const gate = this.gates.get(`${taskId}/${description}`);
    if (!gate) throw new Error(`step ${description} of task ${taskId} is not waiting`);
    gate();
  }

  isWaiting(taskId: string, description: string): boolean {
    return this.gates.has(`${taskId}/${description}`);
  }

  private execute(context: StepContext): Promise<void> {
    const started = { taskId: context.taskId, step: context.step.description, workDir: context.workDir };
    this.started.push(started);
    context.log(`running ${started.step}\n`);
    if (!this.gated.has(started.step)) return Promise.resolve();
    const key = `${context.taskId}/${started.step}`;
    return new Promise<void>((resolve, reject) => {
      context.signal.addEventListener('abort', () => {
        this.gates.delete(key);
        this.killed.push(started);
        reject(new Error('killed'));
      });
      this.gates.set(key, () => {
        this.gates.delete(key);
        resolve();
      });
    });
  }
}

/**
 * One in-process world for worker runtimes: a private SQLite database, the in-process queue, the
 * gated step executor and a temporary directory for work directories.
 */
export class RuntimeHarness {
  readonly queue = new InProcessTaskQueue();
  readonly steps = new GatedSteps();

  private constructor(
    readonly stores: Stores,
    readonly dir: string,
  ) {}

  static async open(): Promise<RuntimeHarness> {
    const stores = await openStores({ url: 'file::memory:', logger, migrate: true });
    return new RuntimeHarness(stores, mkdtempSync(join(tmpdir(), 'shipdeck-runtime-')));
  }

  /** Inserts a QUEUED control task with one sequential step per description, and publishes its message. */
  async queuedTask(descriptions: string[], queue: TaskQueue = this.queue): Promise<TaskRecord> {
    const task: TaskRecord = {
      id: randomUUID(),
      type: 'CONTROL',
      description: `test task of ${descriptions.join(', ')}`,
      state: 'QUEUED',
      plan: buildPlan([
        {
          description: 'phase',
          blocks: [
            {
              description: 'block',
              parallel: false,
              steps: descriptions.map((description, i) => ({
                description,
                order: i,
                ciType: 'test.Step',
                operation: 'run',
                target: { name: 'h', type: 'local' },
                properties: {},
              })),
            },
          ],
        },
      ]),
      workerId: null,
      leaseUntil: null,
      attempt: 1,
      deployment: null,
      control: { target: 'h', control: 'run', parameters: {} },
      scheduledAt: null,
      createdAt: new Date().toISOString(),
      queuedAt: new Date().toISOString(),
      claimedAt: null,
      startedAt: null,
      completedAt: null,
      failure: null,
    };
    await this.stores.tasks.insert(task);
    await this.publish(task.id, queue);
    return task;
  }

  /** Publishes (again) the message of a task. */
  publish(taskId: string, queue: TaskQueue = this.queue): Promise<void> {
    return queue.publish({
      version: TASK_MESSAGE_VERSION,
      taskId,
      taskType: 'CONTROL',
      configHash: CONFIG_HASH,
      publishedBy: 'master-of-the-test',
      publishedAt: new Date().toISOString(),
    });
  }

  /** A runtime named `workerId` with its own work directory and a manual clock unless given. */
  runtime(workerId: string, overrides: Partial<WorkerRuntimeOptions> = {}): WorkerRuntime {
    return new WorkerRuntime({
      workerId,
      workDir: this.workDirOf(workerId),
      queue: this.queue,
      stores: this.stores,
      executors: this.steps.lookup,
      capacity: 1,
      configHash: CONFIG_HASH,
      leaseMs: 30_000,
      logger,
      clock: new ManualClock(),
      ...overrides,
    });
  }

  workDirOf(workerId: string): string {
    return join(this.dir, workerId);
  }

  async task(id: string): Promise<TaskRecord> {
    const task = await this.stores.tasks.get(id);
    if (!task) throw new Error(`task ${id} is not in the database`);
    return task;
  }

  async close(): Promise<void> {
    await this.queue.close();
    await this.stores.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Polls `condition` (without timers: between event-loop turns) until it holds, or fails after 5 s. */
export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

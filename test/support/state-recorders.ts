/**
 * Recorders of the states several masters show over time, for lifecycle assertions such as
 * CONNECTED → DRAINING → DISCONNECTED: per master and subject, the sequence of states seen
 * (consecutive repeats folded; `ERROR` when the master did not answer or was not ready yet — a
 * restarted master answers 503 from the moment it holds its port until it is ready — and
 * `ERROR <status>` for any other answer but 200).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { TaskView } from '@shipdeck/tasks';
import type { WorkerView } from '@shipdeck/master-services';
import { Api, Page, api } from './rest-client';

/** A master as recorders see it. */
export interface Endpointed {
  name: string;
  url: string;
}

/** Polls every master for every subject until stopped; see the module comment. */
export class StateRecorder {
  private readonly sequences = new Map<string, string[]>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly masters: readonly Endpointed[],
    private readonly subjects: readonly string[],
    /** Answers the state `client` shows for `subject`; throws when the master does not answer. */
    private readonly read: (client: Api, subject: string) => Promise<string>,
    private readonly intervalMs = 100,
  ) {}

  /** Starts polling; resolves once every subject was looked at once on every master. */
  async start(): Promise<this> {
    this.running = true;
    const first = this.round();
    this.loop = (async () => {
      await first;
      while (this.running) {
        await delay(this.intervalMs);
        await this.round();
      }
    })();
    await first;
    return this;
  }

  /**
   * Stops polling after the round under way and one more: a state the caller has just seen
   * itself ends every sequence, even when the round under way had read that master before.
   */
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.round();
  }

  /** The states `master` showed for `subject` (default: the first one), repeats folded. */
  sequence(master: string, subject = this.subjects[0]): string[] {
    return [...(this.sequences.get(`${master} ${subject}`) ?? [])];
  }

  toString(): string {
    return [...this.sequences].map(([key, seq]) => `${key}: ${seq.join(' → ')}`).join('; ');
  }

  private async round(): Promise<void> {
    await Promise.all(this.masters.flatMap((m) => this.subjects.map((s) => this.look(m, s))));
  }

  private async look(master: Endpointed, subject: string): Promise<void> {
    let state: string;
    try {
      state = await this.read(api(master.url), subject);
    } catch {
      state = 'ERROR';
    }
    const key = `${master.name} ${subject}`;
    const sequence = this.sequences.get(key) ?? [];
    this.sequences.set(key, sequence);
    if (sequence[sequence.length - 1] !== state) sequence.push(state);
  }
}

/** The states each master shows for one worker in `GET /workers` (`ABSENT` when not listed). */
export class WorkerStateRecorder extends StateRecorder {
  constructor(masters: readonly Endpointed[], workerId: string, intervalMs?: number) {
    super(
      masters,
      [workerId],
      async (client, id) => {
        const response = await client.get<Page<WorkerView>>('/workers?limit=1000');
        return response.status === 200 ? (response.body.items.find((w) => w.id === id)?.state ?? 'ABSENT') : unavailable(response.status);
      },
      intervalMs,
    );
  }
}

/** The states each master shows for some tasks in `GET /tasks/{id}`. */
export class TaskStateRecorder extends StateRecorder {
  constructor(masters: readonly Endpointed[], taskIds: readonly string[], intervalMs?: number) {
    super(
      masters,
      taskIds,
      async (client, id) => {
        const response = await client.get<TaskView>(`/tasks/${id}`);
        return response.status === 200 ? response.body.state : unavailable(response.status);
      },
      intervalMs,
    );
  }
}

/** How a non-200 answer is recorded: 503 (a master starting up) is as good as no answer. */
function unavailable(status: number): string {
  return status === 503 ? 'ERROR' : `ERROR ${status}`;
}

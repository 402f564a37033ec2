/**
 * The REST API of a cluster's masters while a test kills and restarts them: requests go to a
 * live master; task creations (not idempotent) are never retried and their master is not taken
 * down before they are answered.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { ApiResponse, NoAnswerError, request } from './rest-client';

/** An answer and the index of the master that gave it. */
export interface Answer<T = unknown> extends ApiResponse<T> {
  master: number;
}

/**
 * Masters by index, each up (in rotation) or down. A master marked down gets no new requests;
 * {@link MasterPool.markDown} waits for the task creations in flight there, so that every
 * created task is known to the test.
 */
export class MasterPool {
  private readonly up: boolean[];
  private readonly creating: Set<Promise<unknown>>[];

  constructor(private readonly masters: readonly { url: string }[]) {
    this.up = masters.map(() => true);
    this.creating = masters.map(() => new Set());
  }

  get size(): number {
    return this.masters.length;
  }

  isUp(index: number): boolean {
    return this.up[index];
  }

  /** A live master's URL, `prefer` when it is up. */
  liveUrl(prefer = 0): string {
    return this.masters[this.pick(prefer)].url;
  }

  /** Takes a master out of rotation and waits (at most `timeoutMs`) for task creations in flight there. */
  async markDown(index: number, timeoutMs = 20_000): Promise<void> {
    if (this.up.filter(Boolean).length < 2) throw new Error('refusing to take the last live master out of rotation');
    this.up[index] = false;
    const ac = new AbortController();
    await Promise.race([Promise.allSettled([...this.creating[index]]), delay(timeoutMs, undefined, { signal: ac.signal }).catch(() => undefined)]);
    ac.abort();
  }

  markUp(index: number): void {
    this.up[index] = true;
  }

  /** One request to `prefer` (or another live master); NoAnswerError when none came. */
  async once<T>(method: string, path: string, body?: unknown, prefer = 0): Promise<Answer<T>> {
    const index = this.pick(prefer);
    return { ...(await request<T>(method, `${this.masters[index].url}/api/v1${path}`, body)), master: index };
  }

  /** A task creation (POST): never retried, and its master is not taken down before it is answered. */
  create<T>(path: string, body: unknown, prefer: number): Promise<Answer<T>> {
    const index = this.pick(prefer);
    const promise = request<T>('POST', `${this.masters[index].url}/api/v1${path}`, body).then((answer) => ({ ...answer, master: index }));
    const set = this.creating[index];
    set.add(promise);
    void promise.then(
      () => set.delete(promise),
      () => set.delete(promise),
    );
    return promise;
  }

  /** A GET, retried on any live master until it is answered below 500 or `timeoutMs` passes. */
  async get<T>(path: string, timeoutMs = 30_000, prefer = 0): Promise<Answer<T>> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (let attempt = 0; ; attempt++) {
      try {
        const answer = await this.once<T>('GET', path, undefined, prefer + attempt);
        if (answer.status < 500) return answer;
        last = `HTTP ${answer.status} ${answer.text.slice(0, 300)}`;
      } catch (error) {
        if (!(error instanceof NoAnswerError)) throw error;
        last = error.message;
      }
      if (Date.now() > deadline) throw new Error(`GET ${path}: no answer from any master within ${timeoutMs} ms (last: ${last})`);
      await delay(200);
    }
  }

  private pick(prefer: number): number {
    const n = this.masters.length;
    for (let i = 0; i < n; i++) {
      const index = (((prefer + i) % n) + n) % n;
      if (this.up[index]) return index;
    }
    throw new Error('no master is in rotation');
  }
}

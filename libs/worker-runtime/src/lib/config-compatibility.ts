import { Logger } from '@shipdeck/logging';
import { Cancel, Clock } from './clock';

/** A master this worker is connected to, and the configuration hash it told the worker. */
export interface LiveMaster {
  masterId: string;
  configHash: string;
}

/**
 * What a worker does with a task message of another configuration (spec §3, issue 17):
 * - `foreign`: a live master has the message's hash; a worker of that configuration takes it, so
 *   it is handed back (after a pause, so that a queue without such a worker does not spin);
 * - `stale`: no live master has it (from before an upgrade, or forged): it is set aside, handed
 *   back a bounded number of times, then dropped; a master with the current configuration
 *   republishes its task if it is still QUEUED.
 * Neither makes the worker drain: only {@link ConfigCompatibility} decides that.
 */
export type ForeignMessageKind = 'foreign' | 'stale';

/** Whether the message's configuration hash belongs to a live master. */
export function classifyForeignHash(messageHash: string, liveMasterHashes: readonly string[]): ForeignMessageKind {
  return liveMasterHashes.includes(messageHash) ? 'foreign' : 'stale';
}

/**
 * Whether a worker of `ownHash` is the odd one out: it is connected to at least one live master
 * and its hash differs from that of every one of them. With no live master it cannot tell.
 */
export function isOddOneOut(ownHash: string, liveMasterHashes: readonly string[]): boolean {
  return liveMasterHashes.length > 0 && !liveMasterHashes.includes(ownHash);
}

/** The most messages whose hand-backs a worker counts at once; the oldest are forgotten first. */
const MAX_COUNTED_MESSAGES = 10_000;

/**
 * How often each set-aside message was seen by this worker, in bounded memory. Counted per
 * publication (task, time, hash): a republished message starts again at zero.
 */
export class HandBackCounter {
  private readonly counts = new Map<string, number>();

  /** Counts one more delivery of the message; answers how many this worker has seen, this one included. */
  seen(taskId: string, publishedAt: string, configHash: string): number {
    const key = JSON.stringify([taskId, publishedAt, configHash]);
    const count = (this.counts.get(key) ?? 0) + 1;
    // Re-inserted, so that the Map's order is the order of last use.
    this.counts.delete(key);
    this.counts.set(key, count);
    if (this.counts.size > MAX_COUNTED_MESSAGES) this.counts.delete(this.counts.keys().next().value as string);
    return count;
  }
}

/** Options of {@link ConfigCompatibility}. */
export interface ConfigCompatibilityOptions {
  /** This worker's configuration hash. */
  configHash: string;
  /** The masters this worker is connected to now (welcomed, channel up). */
  liveMasters: () => readonly LiveMaster[];
  /**
   * How long the worker must stay the odd one out before it drains: a worker that just started,
   * or whose masters restart one by one, sees only some of them for a moment.
   */
  settleMs: number;
  clock: Clock;
  logger: Logger;
  /** The worker is incompatible with every live master: drain (called at most once). */
  onIncompatible(reason: string): void;
}

/**
 * The drain rule of spec §3: a worker is incompatible, and drains, only when its configuration
 * hash differs from that of every live master it is connected to, and stays so for `settleMs`.
 * A single message never decides it. Call {@link check} whenever a master welcomes the worker or
 * is lost.
 */
export class ConfigCompatibility {
  private pending: Cancel | undefined;
  private decided = false;

  constructor(private readonly options: ConfigCompatibilityOptions) {}

  /** Looks at the live masters now; starts (or cancels) the settle time of an incompatibility. */
  check(): void {
    if (this.decided) return;
    if (!isOddOneOut(this.options.configHash, this.hashes())) {
      if (this.pending) this.options.logger.info('a live master shares this worker\'s configuration again: not draining');
      this.pending?.();
      this.pending = undefined;
      return;
    }
    if (this.pending) return;
    this.options.logger.warn(
      `every live master has another configuration than this worker: draining in ${this.options.settleMs} ms unless one with this configuration is back`,
      { configHash: this.options.configHash, masters: this.describe() },
    );
    this.pending = this.options.clock.after(this.options.settleMs, () => {
      this.pending = undefined;
      if (!isOddOneOut(this.options.configHash, this.hashes())) return;
      this.decided = true;
      this.options.onIncompatible(
        `configuration mismatch: this worker's configuration hash ${short(this.options.configHash)} differs from that of every ` +
          `live master (${this.describe()}); synchronize conf/, plugins/ and ext/ with the masters and restart this worker`,
      );
    });
  }

  /** Cancels a pending decision (the worker is closing). */
  stop(): void {
    this.pending?.();
    this.pending = undefined;
    this.decided = true;
  }

  private hashes(): string[] {
    return this.options.liveMasters().map((m) => m.configHash);
  }

  private describe(): string {
    return this.options
      .liveMasters()
      .map((m) => `${m.masterId}: ${short(m.configHash)}`)
      .join(', ');
  }
}

function short(hash: string): string {
  return hash.slice(0, 12);
}

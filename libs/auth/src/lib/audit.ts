import { Logger } from '@shipdeck/logging';
import { AuditOutcome, AuthStore, NewAuditEntry } from './store';

/** Where audited actions go. */
export interface AuditRecorder {
  /** Records one entry; rejects when it could not be recorded. */
  record(entry: NewAuditEntry): Promise<void>;
}

/** Records audit entries in the auth store (shared by every master). */
export class StoreAuditRecorder implements AuditRecorder {
  constructor(private readonly store: AuthStore) {}

  record(entry: NewAuditEntry): Promise<void> {
    return this.store.appendAudit(entry);
  }
}

/**
 * Records `entry` and never rejects: an action that already happened cannot be undone because its
 * audit entry could not be written, so the failure is logged (at error level, with the entry) instead.
 */
export async function recordSafely(recorder: AuditRecorder, entry: NewAuditEntry, logger: Logger): Promise<void> {
  try {
    await recorder.record(entry);
  } catch (error) {
    logger.error(`audit entry not recorded: ${error instanceof Error ? error.message : String(error)}`, { audit: entry });
  }
}

/** The outcome of a request by its status: refused for 401/403/429, failed for other errors. */
export function outcomeOfStatus(status: number): AuditOutcome {
  if (status < 400) return 'succeeded';
  if (status === 401 || status === 403 || status === 429) return 'denied';
  return 'failed';
}

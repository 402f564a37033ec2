/** The ledger test plugin (test/fixtures/plugins/ledger) and the lines its steps write. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './shipdeck-process';

/** The plugin's directory: `ledger` hosts with control `record`, CI type `test.Ledger`. */
export const LEDGER_PLUGIN_DIR = join(REPO_ROOT, 'test', 'fixtures', 'plugins', 'ledger');

/** One line of a ledger: an execution of a step began, or finished. */
export interface LedgerLine {
  kind: 'begin' | 'done';
  taskId: string;
  step: string;
  pid: number;
  /** The engine's start time of this execution of the step (an execution id). */
  startedAt: string;
}

/** Every line of a ledger file, `begin` and `done` (none while there is no file); fails on a malformed one. */
export function readLedgerLines(file: string): LedgerLine[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((line) => {
      const [kind, taskId, step, pid, startedAt, ...rest] = line.split(' ');
      if ((kind !== 'begin' && kind !== 'done') || !taskId || !step || !/^\d+$/.test(pid ?? '') || !startedAt || rest.length > 0) {
        throw new Error(`malformed ledger line in ${file}: "${line}"`);
      }
      return { kind, taskId, step, pid: Number(pid), startedAt };
    });
}

/** A step execution that ran to its end: which step of which task, in which process. */
export interface LedgerRecord {
  taskId: string;
  step: string;
  pid: number;
}

/** The `done` lines of a ledger file: one record per execution of a step that ran to its end. */
export function readLedger(file: string): LedgerRecord[] {
  return readLedgerLines(file)
    .filter((l) => l.kind === 'done')
    .map(({ taskId, step, pid }) => ({ taskId, step, pid }));
}

/** How many records of `lines` each step of `taskId` has, by step path. */
export function ledgerCounts(lines: readonly LedgerRecord[], taskId: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const l of lines) if (l.taskId === taskId) counts[l.step] = (counts[l.step] ?? 0) + 1;
  return counts;
}

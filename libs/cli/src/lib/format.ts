import type { Host } from '@shipdeck/domain';
import type { StepView, TaskView } from '@shipdeck/tasks';

/** Aligns rows under a header; the last column is not padded. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** One step as progress shows it: `  1-1-2  DONE       Create app-config on local`. */
export function stepLine(step: Pick<StepView, 'path' | 'state' | 'description'>, indent = '  '): string {
  return `${indent}${step.path.padEnd(5)}  ${step.state.padEnd(9)}  ${step.description}`;
}

/** A task in full: its fields, then its plan as a tree of phases, blocks and steps. */
export function taskDetails(task: TaskView): string {
  const fields: [string, string | null][] = [
    ['id', task.id],
    ['type', task.type],
    ['state', task.state],
    ['description', task.description],
    ['worker', task.worker],
    ['deployment', deploymentSummary(task)],
    ['attempt', task.attempt > 0 ? String(task.attempt) : null],
    ['created', task.createdAt],
    ['scheduled', task.scheduledAt],
    ['started', task.startedAt],
    ['completed', task.completedAt],
    ['failure', task.failure],
    ...actorFields(task),
  ];
  const lines = fields.filter(([, v]) => v !== null && v !== '').map(([k, v]) => `${`${k}:`.padEnd(13)}${v}`);
  lines.push(`plan:        ${task.plan.state}`);
  for (const phase of task.plan.phases) {
    lines.push(stepLine(phase, '  '));
    for (const block of phase.blocks) {
      lines.push(`${stepLine(block, '    ')}${block.parallel ? ' (parallel)' : ''}`);
      for (const step of block.steps) {
        lines.push(`${stepLine(step, '      ')}${step.pauseBefore ? ' [pause before]' : ''}`);
        if (step.failure) lines.push(`${' '.repeat(24)}${step.failure}`);
      }
    }
  }
  return lines.join('\n');
}

/** The `actors` line of a task view that has them (`GET /tasks/{id}`): `created by ada (time), started by …`. */
function actorFields(task: TaskView): [string, string | null][] {
  const actors = task.actors;
  if (!actors) return [];
  const acts: [string, { user: string; at: string } | null][] = [
    ['created', actors.createdBy],
    ['started', actors.startedBy],
    ['stopped', actors.stoppedBy],
    ['cancelled', actors.cancelledBy],
    ['archived', actors.archivedBy],
  ];
  const done = acts.flatMap(([what, actor]) => (actor ? [`${what} by ${actor.user} (${actor.at})`] : []));
  return [['actors', done.length > 0 ? done.join(', ') : null]];
}

function deploymentSummary(task: TaskView): string | null {
  if (!task.application) return null;
  const what = task.version ? `${task.application} ${task.version}` : task.application;
  const kind = task.kind ? ` (${task.kind})` : '';
  return `${what} → ${task.environment ?? '?'}${kind}`;
}

/** The last `count` lines of a text, without a trailing empty line. */
export function tail(text: string, count: number): string[] {
  const lines = text.replace(/\n$/, '').split('\n');
  return text === '' ? [] : lines.slice(-count);
}

/** A host: its name, type and tags, then one line per property (maps and lists as JSON) as the master shows them. */
export function hostDetails(host: Host): string {
  const lines = [`name:       ${host.name}`, `type:       ${host.type}`, `tags:       ${host.tags.join(', ') || '-'}`];
  const properties = Object.entries(host.properties).sort(([a], [b]) => a.localeCompare(b));
  if (properties.length > 0) lines.push('properties:');
  for (const [key, value] of properties) lines.push(`  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return lines.join('\n');
}

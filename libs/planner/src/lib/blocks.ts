import { BlockSpec, StepSpec } from '@shipdeck/tasks';

/**
 * Groups steps into blocks: destroy steps first, then creates and modifies, each group split by
 * order value, ascending. A block spanning several hosts runs in parallel.
 */
export function toBlocks(steps: StepSpec[]): BlockSpec[] {
  const destroys = steps.filter((s) => s.operation === 'DESTROY');
  const others = steps.filter((s) => s.operation !== 'DESTROY');
  return [...byOrder(destroys, 'Destroy'), ...byOrder(others, 'Deploy')];
}

function byOrder(steps: StepSpec[], label: string): BlockSpec[] {
  const groups = new Map<number, StepSpec[]>();
  for (const step of steps) groups.set(step.order, [...(groups.get(step.order) ?? []), step]);
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .map(([order, group]) => ({
      description: `${label} (order ${order})`,
      parallel: new Set(group.map((s) => s.target.name)).size > 1,
      steps: group.sort(
        (a, b) => compare(a.target.name, b.target.name) || compare(a.deployable ?? '', b.deployable ?? ''),
      ),
    }));
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

import { BlockSpec, StepSpec } from '@shipdeck/tasks';

/**
 * Groups steps into blocks: destroy steps first, then creates and modifies, each group split by
 * order value, ascending. `steps` come in the order the package declares its deployables; within
 * one order value that declared order is kept (reversed for destroys, which undo in the reverse
 * order things were created in). A block spanning several hosts runs in parallel, so when several
 * deployables share an order value on several hosts, each deployable gets its own block (in
 * declared order), parallel across its hosts: the declared order then holds on every host.
 */
export function toBlocks(steps: StepSpec[]): BlockSpec[] {
  const destroys = steps.filter((s) => s.operation === 'DESTROY');
  const others = steps.filter((s) => s.operation !== 'DESTROY');
  return [...byOrder(destroys, 'Destroy', true), ...byOrder(others, 'Deploy', false)];
}

function byOrder(steps: StepSpec[], label: string, reverse: boolean): BlockSpec[] {
  const groups = new Map<number, StepSpec[]>();
  for (const step of steps) groups.set(step.order, [...(groups.get(step.order) ?? []), step]);
  return [...groups.entries()]
    .sort(([a], [b]) => a - b)
    .flatMap(([order, group]) => {
      const declared = unique(group.map(deployableOf));
      const deployables = reverse ? declared.reverse() : declared;
      const hosts = unique(group.map((s) => s.target.name));
      const description = `${label} (order ${order})`;
      if (hosts.length > 1 && deployables.length > 1) {
        return deployables.map((deployable) => block(`${description}: ${deployable}`, group.filter((s) => deployableOf(s) === deployable), deployables));
      }
      return [block(description, group, deployables)];
    });
}

/** A block of `steps`, by host then by the deployables' rank in `deployables`; parallel when it spans hosts. */
function block(description: string, steps: StepSpec[], deployables: string[]): BlockSpec {
  const rank = (s: StepSpec) => deployables.indexOf(deployableOf(s));
  return {
    description,
    parallel: new Set(steps.map((s) => s.target.name)).size > 1,
    steps: [...steps].sort((a, b) => compare(a.target.name, b.target.name) || rank(a) - rank(b)),
  };
}

const deployableOf = (step: StepSpec): string => step.deployable ?? '';

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

import { BlockSpec, StepSpec } from '@shipdeck/tasks';

/**
 * Groups steps into blocks: destroy steps first, then creates and modifies, each group split by
 * order value, ascending. `steps` come in the order the package declares its deployables; within
 * one order value that declared order is kept (reversed for destroys, which undo in the reverse
 * order things were created in). A block spanning several hosts runs in parallel, so when several
 * deployables share an order value on several hosts, each deployable gets its own block (in
 * declared order), parallel across its hosts: the declared order then holds on every host.
 *
 * Runs in O(n log n) for n steps: every step is visited a constant number of times besides one
 * sort per block, whose comparisons are O(1) (deployable ranks are looked up in a map).
 */
export function toBlocks(steps: StepSpec[]): BlockSpec[] {
  const destroys: StepSpec[] = [];
  const others: StepSpec[] = [];
  for (const step of steps) (step.operation === 'DESTROY' ? destroys : others).push(step);
  return [...byOrder(destroys, 'Destroy', true), ...byOrder(others, 'Deploy', false)];
}

function byOrder(steps: StepSpec[], label: string, reverse: boolean): BlockSpec[] {
  const groups = new Map<number, StepSpec[]>();
  for (const step of steps) {
    const group = groups.get(step.order);
    if (group) group.push(step);
    else groups.set(step.order, [step]);
  }
  const blocks: BlockSpec[] = [];
  for (const [order, group] of [...groups.entries()].sort(([a], [b]) => a - b)) {
    // Steps of one deployable, keyed in declared order (a Map keeps insertion order).
    const byDeployable = new Map<string, StepSpec[]>();
    const hosts = new Set<string>();
    for (const step of group) {
      const name = deployableOf(step);
      const own = byDeployable.get(name);
      if (own) own.push(step);
      else byDeployable.set(name, [step]);
      hosts.add(step.target.name);
    }
    const declared = [...byDeployable.keys()];
    const deployables = reverse ? declared.reverse() : declared;
    const rank = new Map(deployables.map((name, i) => [name, i]));
    const description = `${label} (order ${order})`;
    if (hosts.size > 1 && deployables.length > 1) {
      for (const deployable of deployables) {
        blocks.push(block(`${description}: ${deployable}`, byDeployable.get(deployable) ?? [], rank));
      }
    } else blocks.push(block(description, group, rank));
  }
  return blocks;
}

/** A block of `steps`, by host then by the deployables' `rank`; parallel when it spans hosts. */
function block(description: string, steps: StepSpec[], rank: ReadonlyMap<string, number>): BlockSpec {
  const rankOf = (s: StepSpec) => rank.get(deployableOf(s)) ?? 0;
  const hosts = new Set<string>();
  for (const step of steps) hosts.add(step.target.name);
  return {
    description,
    parallel: hosts.size > 1,
    steps: [...steps].sort((a, b) => compare(a.target.name, b.target.name) || rankOf(a) - rankOf(b)),
  };
}

const deployableOf = (step: StepSpec): string => step.deployable ?? '';

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

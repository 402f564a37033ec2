/**
 * The planner: pure functions, run on the master, that turn a package, an environment and what
 * is deployed there into a task plan. No I/O; callers load everything first.
 *
 * Shape of a deployment or undeployment plan ({@link planDeployment}, {@link planUndeployment}):
 *
 * - one phase, `Deploy APP VERSION to ENV` or `Undeploy APP from ENV` (with no blocks when
 *   nothing changes);
 * - its blocks: first the DESTROY steps, then the CREATE and MODIFY steps, each grouped by order
 *   value, ascending (`Destroy (order 30)`, `Deploy (order 60)`…). A step's order is the
 *   deployable's `order`, or its type's default; a DESTROY step's order is 100 minus that, so
 *   things are removed in the reverse order of their creation;
 * - a block is `parallel` when its steps target more than one host (the same kind of work runs on
 *   every host at once), serial otherwise; its steps are sorted by host, then deployable;
 * - a step per CREATE, MODIFY and DESTROY change whose type has one for that operation (NOOPs
 *   and, e.g., an http.Check on DESTROY have none): description `Create app-config on local-1`,
 *   ciType the deployable's type, target the host, properties resolved (for DESTROY, those of the
 *   deployed being removed).
 *
 * A plan covers at most `limits.maxSteps` (deployable, host) pairs ({@link DEFAULT_MAX_PLAN_STEPS}
 * by default, `task.maxPlanSteps` on a master); more are refused with a PlanningError naming the
 * numbers. Planning runs in O(n log n) for n pairs; the `…InChunks` variants give the event loop
 * a turn every few hundred pairs, so that a master stays responsive while it plans.
 *
 * A control task ({@link planControl}) has one phase `Control CONTROL on HOST`, one block, one
 * step of ciType `host.<host type>` whose operation is the control.
 *
 * @packageDocumentation
 */
export {
  DEFAULT_MAX_PLAN_STEPS,
  planDeployment,
  planDeploymentInChunks,
  planUndeployment,
  planUndeploymentInChunks,
  type DeploymentPlan,
  type PlanLimits,
  type DeploymentPlanInput,
  type UndeploymentPlanInput,
} from './lib/deployment';
export { planControl, type ControlPlanInput } from './lib/control';
export { resolvePlaceholders } from './lib/placeholders';

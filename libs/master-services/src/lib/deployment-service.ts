import { setImmediate as nextTurn } from 'node:timers/promises';
import { ErrorCode, NotFoundError, ValidationError } from '@shipdeck/errors';
import { planDeploymentInChunks, planUndeploymentInChunks } from '@shipdeck/planner';
import { Plan, TaskView, buildPlan, pauseBeforeStep, renderTask, skipStep } from '@shipdeck/tasks';
import { TaskStore } from '@shipdeck/persistence';
import { DeploymentPreview, DeploymentRequest, TaskCreationOptions, UndeploymentRequest } from './requests';
import { TaskPlanningOptions, unfinishedDeployment } from './task-factory';

/** What {@link DeploymentService} needs besides what every planning service does. */
export interface DeploymentServiceOptions extends TaskPlanningOptions {
  /** Current tasks, to refuse planning while a deployment of the same application and environment is unfinished. */
  current: Pick<TaskStore, 'list'>;
  /** `task.maxPlanSteps`: most (deployable, host) pairs one plan may cover. Default: the planner's, 10,000. */
  maxPlanSteps?: number;
}

/**
 * Deployments (spec §6): plans what a deployment or undeployment changes, previews it, and creates
 * its PENDING task. Nothing runs until the task is started. At most one deployment or
 * undeployment per application and environment is unfinished at a time: the deployed state a
 * plan compares with is only current once the previous task is archived or cancelled, so planning
 * (a preview too) is refused with a CONFLICT (409) naming the unfinished task.
 *
 * Planning runs in chunks, so that the master keeps answering (health checks too) while it plans a
 * large deployment; a plan of more than `maxPlanSteps` (deployable, host) pairs is refused with a
 * PLANNING_FAILED (400) naming the numbers.
 */
export class DeploymentService {
  constructor(private readonly options: DeploymentServiceOptions) {}

  /** The plan a deployment would get, with what it deploys and changes; creates nothing. */
  async previewDeployment(request: DeploymentRequest): Promise<DeploymentPreview> {
    const planned = await this.plan(request);
    // Building and rendering a large plan take a while each: other requests get a turn in between.
    await nextTurn();
    const task = this.options.tasks.draft({ type: 'DEPLOYMENT', description: '' }, buildPlan(planned.phases));
    await nextTurn();
    return { kind: planned.kind, deployeds: planned.deployeds, delta: planned.delta, plan: renderTask(task).plan };
  }

  /** Creates the task (PENDING, or started) of a deployment, with the request's skipped steps and pauses. */
  async createDeployment(request: DeploymentRequest, options: TaskCreationOptions = {}): Promise<TaskView> {
    const planned = await this.plan(request);
    await nextTurn();
    const plan = buildPlan(planned.phases);
    applyPlanChanges(plan, request);
    const verb = planned.kind === 'UPDATE' ? 'Update' : 'Deploy';
    const deployment = {
      application: request.application,
      version: request.version,
      environment: request.environment,
      kind: planned.kind,
      deployeds: planned.deployeds,
    };
    const description = `${verb} ${request.application} ${request.version} to ${request.environment}`;
    return this.options.tasks.createDeployment({ type: 'DEPLOYMENT', description, deployment }, plan, options);
  }

  /** Creates the task (PENDING, or started) that removes a deployed application; NOT_DEPLOYED when it is not there. */
  async createUndeployment(request: UndeploymentRequest, options: TaskCreationOptions = {}): Promise<TaskView> {
    const { catalog } = this.options;
    const environment = await catalog.getEnvironment(request.environment);
    await this.refuseWhileUnfinished(request.application, request.environment);
    const current = await catalog.deployedApplication(request.environment, request.application);
    if (!current) {
      throw new NotFoundError(
        ErrorCode.NOT_DEPLOYED,
        `application ${request.application} is not deployed to environment ${request.environment}`,
      );
    }
    // The package deployed is normally still imported; its explicit orders then order the destroys.
    const pkg = await catalog.getPackage(current.application, current.version).catch((error: unknown) => {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    });
    const planned = await planUndeploymentInChunks({
      current,
      hosts: await catalog.hostsOf(environment),
      types: this.options.registry,
      pkg,
      limits: { maxSteps: this.options.maxPlanSteps },
    });
    const deployment = {
      application: request.application,
      version: null,
      environment: request.environment,
      kind: 'UNDEPLOY' as const,
      deployeds: [],
    };
    const description = `Undeploy ${request.application} ${current.version} from ${request.environment}`;
    return this.options.tasks.createDeployment({ type: 'DEPLOYMENT', description, deployment }, buildPlan(planned.phases), options);
  }

  /** CONFLICT naming the oldest unfinished deployment task of the application to the environment, if any. */
  private async refuseWhileUnfinished(application: string, environment: string): Promise<void> {
    const [blocking] = await this.options.current.list({ type: 'DEPLOYMENT', application, environment });
    if (blocking) throw unfinishedDeployment(blocking);
  }

  private async plan(request: DeploymentRequest) {
    const { catalog } = this.options;
    const pkg = await catalog.getPackage(request.application, request.version);
    const environment = await catalog.getEnvironment(request.environment);
    await this.refuseWhileUnfinished(request.application, request.environment);
    return planDeploymentInChunks({
      pkg,
      environment,
      hosts: await catalog.hostsOf(environment),
      current: await catalog.deployedApplication(request.environment, request.application),
      types: this.options.registry,
      limits: { maxSteps: this.options.maxPlanSteps },
    });
  }
}

/** Applies the skip and pause-before lists of a deployment request; an unknown path names its field. */
function applyPlanChanges(plan: Plan, request: DeploymentRequest): void {
  const details: { field: string; message: string }[] = [];
  const apply = (paths: string[] | undefined, field: string, change: (path: string) => void) =>
    paths?.forEach((path, i) => {
      try {
        change(path);
      } catch (error) {
        details.push({ field: `${field}[${i}]`, message: error instanceof Error ? error.message : String(error) });
      }
    });
  apply(request.skipSteps, 'skipSteps', (path) => skipStep(plan, path));
  apply(request.pauseBefore, 'pauseBefore', (path) => pauseBeforeStep(plan, path));
  if (details.length > 0) throw new ValidationError('the plan has no such steps', details);
}

import { planControl } from '@shipdeck/planner';
import { TaskView, buildPlan } from '@shipdeck/tasks';
import { ControlTaskRequest, TaskCreationOptions } from './requests';
import { TaskPlanningOptions } from './task-factory';

/** Control tasks (spec §6): one control, such as checkConnection, run on one host. */
export class ControlTaskService {
  constructor(private readonly options: TaskPlanningOptions) {}

  /** Creates the task (PENDING, or started) of a control; the host type must offer it. */
  async createControlTask(request: ControlTaskRequest, options: TaskCreationOptions = {}): Promise<TaskView> {
    const host = await this.options.catalog.getHost(request.target);
    const parameters = request.parameters ?? {};
    const phases = planControl({ host, control: request.control, parameters, types: this.options.registry });
    const control = { target: host.name, control: request.control, parameters };
    return this.options.tasks.create({ type: 'CONTROL', description: `${request.control} on ${host.name}`, control }, buildPlan(phases), options);
  }
}

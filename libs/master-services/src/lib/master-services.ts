import { SecretBox } from '@shipdeck/domain';
import { Logger } from '@shipdeck/logging';
import { Clock, Stores } from '@shipdeck/persistence';
import { PluginRegistry } from '@shipdeck/plugins';
import { CatalogService } from './catalog-service';
import { ControlTaskService } from './control-task-service';
import { DeploymentService } from './deployment-service';
import { ServerInfo } from './requests';
import { ServerService } from './server-service';
import { TaskFactory } from './task-factory';
import { TaskOperationsService } from './task-operations-service';
import { TaskAnnouncer } from './task-announcer';
import { TaskViews } from './task-views';
import { WorkerService } from './worker-service';
import { WorkerPool } from './workers';

/** What {@link createMasterServices} needs: everything a master has opened or built. */
export interface MasterServicesOptions {
  /** The shared database. */
  stores: Stores;
  /** Host, deployable and control types. */
  registry: PluginRegistry;
  /** Publishes queued tasks. */
  announcer: TaskAnnouncer;
  /** The in-process worker or the cluster's external workers. */
  workers: WorkerPool;
  logger: Logger;
  info: ServerInfo;
  /** `task.maxPlanSteps`: most (deployable, host) pairs one deployment plan may cover. Default 10,000. */
  maxPlanSteps?: number;
  /** Seals secrets before they are stored (the master's secrets key); without it secrets are refused. */
  secrets?: SecretBox | null;
  /** The clock for creation, queueing and completion times. Default: now. */
  now?: Clock;
}

/**
 * Everything a master does for its clients, one service per job. The REST layer validates input
 * shapes and calls these; every domain rule (existence, state transitions, planning) is enforced
 * here and raised as a ShipdeckError with a stable code.
 */
export interface MasterServices {
  catalog: CatalogService;
  deployments: DeploymentService;
  controlTasks: ControlTaskService;
  tasks: TaskOperationsService;
  workers: WorkerService;
  server: ServerService;
}

/** Builds the master services over one database, queue and worker pool. */
export function createMasterServices(options: MasterServicesOptions): MasterServices {
  const { stores, registry, announcer, workers, logger } = options;
  const now = options.now ?? (() => new Date());
  const catalog = new CatalogService({ stores, registry, logger, secrets: options.secrets });
  const views = new TaskViews(stores.tasks, workers);
  const factory = new TaskFactory(stores.tasks, views, announcer, logger, now);
  return {
    catalog,
    deployments: new DeploymentService({ catalog, tasks: factory, registry, current: stores.tasks, maxPlanSteps: options.maxPlanSteps }),
    controlTasks: new ControlTaskService({ catalog, tasks: factory, registry }),
    tasks: new TaskOperationsService({ tasks: stores.tasks, logs: stores.logs, views, announcer, workers, logger, now }),
    workers: new WorkerService(workers, stores.tasks),
    server: new ServerService(options.info, stores, announcer),
  };
}

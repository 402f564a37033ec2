export { createMasterServices, type MasterServices, type MasterServicesOptions } from './lib/master-services';
export { CatalogService, type CatalogServiceOptions, type ImportedPackage } from './lib/catalog-service';
export { DeploymentService, type DeploymentServiceOptions } from './lib/deployment-service';
export { packageDigest } from './lib/package-digest';
export { ControlTaskService } from './lib/control-task-service';
export { TaskFactory, type TaskPlanningOptions, type TaskPurpose } from './lib/task-factory';
export { TaskViews } from './lib/task-views';
export { TaskOperationsService, type TaskOperationsServiceOptions } from './lib/task-operations-service';
export { WorkerService } from './lib/worker-service';
export { ServerService } from './lib/server-service';
export type {
  ArchiveListFilter,
  ControlTaskRequest,
  DeploymentPreview,
  DeploymentRequest,
  ServerInfo,
  TaskCreationOptions,
  TaskListFilter,
  UndeploymentRequest,
} from './lib/requests';
export { TaskAnnouncer } from './lib/task-announcer';
export { Reconciler, type ReconcilerOptions } from './lib/reconciler';
export type { WorkerLink } from './lib/worker-link';
export type { GhostTaskRestore, WorkerPool, WorkerState, WorkerView } from './lib/workers';
export { ClusterWorkers, type ClusterWorkersOptions, type ConnectedWorker } from './lib/cluster-workers';
export { InProcessWorkers, type InProcessWorker, type InProcessWorkersOptions } from './lib/in-process-workers';

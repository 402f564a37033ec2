/**
 * What the libraries report, as small interfaces: a library takes the one it needs as an optional
 * option and falls back to {@link NO_METRICS}, so its unit tests need no registry. The Prometheus
 * implementation ({@link PrometheusMetrics}) implements them all.
 */

/** One HTTP request of the master's REST app, as it ended. */
export interface HttpRequestObservation {
  method: string;
  /**
   * The route pattern as registered (`/api/v1/tasks/:id`), never the raw path, so that the label
   * set stays bounded; `unmatched` for a path no route serves.
   */
  route: string;
  /** The status code answered, or `aborted` when the client went away first. */
  status: number | 'aborted';
  durationSeconds: number;
}

/** The HTTP side of a master. */
export interface HttpMetrics {
  httpRequest(observation: HttpRequestObservation): void;
}

/** How a publication of a task message went. */
export type PublishOutcome = 'published' | 'failed';

/** Task messages on the master side: every publication, and the reconciler's republications. */
export interface TaskMessageMetrics {
  /** A task message was published (the broker accepted it) or could not be. */
  taskMessagePublished(outcome: PublishOutcome): void;
  /** The reconciler published the message of a task again (a due scheduled task is not counted). */
  reconcilerRepublished(): void;
}

/** A step that has ended on a worker. */
export interface StepObservation {
  /** The step's CI type (bounded: the plugins' types). */
  stepType: string;
  outcome: 'DONE' | 'FAILED';
  durationSeconds: number;
}

/** The task execution engine of a worker (in-process or external). */
export interface WorkerRuntimeMetrics {
  /** A message was delivered to this worker. */
  taskMessageDelivered(): void;
  /** A message was handed back to the broker (not executing tasks now, configuration mismatch, database down). */
  taskMessageHandedBack(): void;
  /** A task was claimed; `queuedToClaimedSeconds` is the time between its QUEUED and its claim. */
  taskClaimed(queuedToClaimedSeconds: number | null): void;
  stepEnded(step: StepObservation): void;
  /** Tasks the start-up recovery ended (spec §5). */
  tasksRecovered(count: number): void;
}

/** The broker connection of a task queue adapter (libs/queue), on masters and workers alike. */
export interface QueueMetrics {
  /** The connection to the broker dropped and was made again. */
  brokerReconnected(): void;
  /**
   * A task message reached a consumer that the broker marks as delivered before (AMQP 1.0:
   * `first-acquirer` false or `delivery-count` above 0; STOMP: `redelivered: true`).
   */
  taskMessageRedelivered(): void;
}

/** The database connection of a process (libs/persistence). */
export interface DatabaseMetrics {
  /** A statement failed because the database was unreachable, and a later one succeeded again. */
  databaseReconnected(): void;
}

/** Every sink, doing nothing: what libraries use when their caller gives none. */
export const NO_METRICS: HttpMetrics & TaskMessageMetrics & WorkerRuntimeMetrics & QueueMetrics & DatabaseMetrics = {
  httpRequest: () => undefined,
  taskMessagePublished: () => undefined,
  reconcilerRepublished: () => undefined,
  taskMessageDelivered: () => undefined,
  taskMessageHandedBack: () => undefined,
  taskClaimed: () => undefined,
  stepEnded: () => undefined,
  tasksRecovered: () => undefined,
  brokerReconnected: () => undefined,
  taskMessageRedelivered: () => undefined,
  databaseReconnected: () => undefined,
};

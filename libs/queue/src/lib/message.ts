import { TaskType } from '@shipdeck/tasks';

/** The version of the task message envelope; a consumer refuses versions it does not know. */
export const TASK_MESSAGE_VERSION = 1;

/** Wire names of the envelope's application properties, spelled once. */
export const MessageProperty = {
  version: 'shipdeckVersion',
  taskId: 'taskId',
  taskType: 'taskType',
  configHash: 'configHash',
  publishedBy: 'publishedBy',
  publishedAt: 'publishedAt',
} as const;

/** The default name of the shared task queue (`task.queue.name`). */
export const DEFAULT_QUEUE_NAME = 'shipdeck-tasks';

/**
 * A task message: it names a task, it does not carry it. The task itself lives in the database,
 * so a duplicate or stale message is harmless (the claim decides who executes).
 */
export interface TaskMessage {
  version: typeof TASK_MESSAGE_VERSION;
  taskId: string;
  taskType: TaskType;
  /** The publishing master's configuration hash; a worker with another hash must not execute it. */
  configHash: string;
  /** Id of the publishing master. */
  publishedBy: string;
  /** ISO time of publication. */
  publishedAt: string;
  /**
   * HMAC-SHA256 (base64url) over the other fields with a key derived from the cluster secret,
   * set by {@link SignedTaskQueue} when the cluster has a secret (see signing.ts). Absent on an
   * unsigned message.
   */
  signature?: string;
}

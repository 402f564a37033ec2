import { KeyObject, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { LevelLogger } from '@shipdeck/logging';
import { TaskMessage } from './message';
import { ConsumeOptions, Delivery, DeliveryHandler, TaskConsumer, TaskQueue } from './port';

/** The longest signature read: base64url of SHA-256 is 43 characters. */
const MAX_SIGNATURE_LENGTH = 128;

/** The key that signs task messages, derived from the cluster secret (distinct from the command channel's key). */
export function taskMessageKey(secret: string): KeyObject {
  return createSecretKey(new Uint8Array(createHmac('sha256', secret).update('shipdeck task messages v1').digest()));
}

/**
 * The signature of a task message: HMAC-SHA256 over every envelope field but the signature, as
 * a JSON array (fields cannot run into each other), base64url.
 */
export function taskMessageSignature(message: TaskMessage, key: KeyObject): string {
  const fields = [message.version, message.taskId, message.taskType, message.configHash, message.publishedBy, message.publishedAt];
  return createHmac('sha256', key).update(JSON.stringify(fields)).digest('base64url');
}

/** The message with its signature. */
export function signTaskMessage(message: TaskMessage, key: KeyObject): TaskMessage {
  return { ...message, signature: taskMessageSignature(message, key) };
}

/** Why a message's signature does not verify, or undefined when it does. */
export function signatureProblem(message: TaskMessage, key: KeyObject): string | undefined {
  const { signature } = message;
  if (signature === undefined) return 'it is not signed';
  if (typeof signature !== 'string' || signature.length > MAX_SIGNATURE_LENGTH) return 'its signature is malformed';
  const expected = new Uint8Array(Buffer.from(taskMessageSignature(message, key), 'utf8'));
  const received = new Uint8Array(Buffer.from(signature, 'utf8'));
  return expected.length === received.length && timingSafeEqual(expected, received)
    ? undefined
    : 'its signature does not match (forged, altered, or signed with another cluster secret)';
}

/** Options of {@link SignedTaskQueue}. */
export interface SignedTaskQueueOptions {
  /** The cluster secret (`cluster.secret`); only a key derived from it is kept. Never logged. */
  secret: string;
  logger: LevelLogger;
}

/**
 * Signs and checks task messages at the port, over any adapter (issue 10): every published
 * message is signed; a delivered message whose signature does not verify is never given to the
 * handler: it is accepted (the broker forgets it) and a warning names the task it claims to be
 * for. Every worker of the cluster has the same secret, so handing it back would only pass it to
 * the next worker; and since the handler never sees it, it cannot make a worker drain. A task
 * named by a dropped message that is really QUEUED is published again by a master's reconciler.
 */
export class SignedTaskQueue implements TaskQueue {
  private readonly key: KeyObject;
  private readonly logger: LevelLogger;
  /** Messages refused for their signature, for health and tests. */
  private refusedCount = 0;

  constructor(
    private readonly inner: TaskQueue,
    options: SignedTaskQueueOptions,
  ) {
    this.key = taskMessageKey(options.secret);
    this.logger = options.logger;
  }

  /** How many delivered messages were dropped because their signature did not verify. */
  get refused(): number {
    return this.refusedCount;
  }

  publish(message: TaskMessage): Promise<void> {
    return this.inner.publish(signTaskMessage(message, this.key));
  }

  consume(options: ConsumeOptions, handler: DeliveryHandler): Promise<TaskConsumer> {
    return this.inner.consume(options, (delivery) => this.check(delivery, handler));
  }

  checkReady(): Promise<void> {
    return this.inner.checkReady();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private async check(delivery: Delivery, handler: DeliveryHandler): Promise<void> {
    const { message } = delivery;
    const problem = signatureProblem(message, this.key);
    if (problem === undefined) return handler(delivery);
    this.refusedCount++;
    // Fields of an unverified message are the sender's word: logged as what it claims.
    this.logger.warn(`task message dropped unexecuted: ${problem}`, {
      taskId: message.taskId,
      claimedPublisher: message.publishedBy,
      configHash: message.configHash,
    });
    await delivery.accept();
  }
}

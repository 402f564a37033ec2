import type { StompHeaders } from 'stompit';
import { decodeTaskMessage, DecodedTaskMessage } from '../amqp/envelope';
import { MessageProperty, TaskMessage } from '../message';

/**
 * The SEND headers of a task message on Artemis: the ANYCAST queue, persistent (journalled
 * before the RECEIPT), and the envelope fields as headers, which Artemis turns into message
 * properties: the `configHash` selector and AMQP consumers read them like the AMQP ones.
 */
export function taskMessageHeaders(queueName: string, message: TaskMessage): StompHeaders {
  return {
    destination: queueName,
    'destination-type': 'ANYCAST',
    persistent: 'true',
    'content-type': 'application/json',
    [MessageProperty.version]: String(message.version),
    [MessageProperty.taskId]: message.taskId,
    [MessageProperty.taskType]: message.taskType,
    [MessageProperty.configHash]: message.configHash,
    [MessageProperty.publishedBy]: message.publishedBy,
    [MessageProperty.publishedAt]: message.publishedAt,
  };
}

/** The body of a task message: its JSON, the same text the AMQP adapter sends. */
export function taskMessageBody(message: TaskMessage): string {
  return JSON.stringify(message);
}

/** Reads a task message from a STOMP body (the JSON is the truth, as over AMQP). */
export function decodeStompBody(body: string): DecodedTaskMessage {
  return decodeTaskMessage({ body });
}

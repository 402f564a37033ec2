import { MessageProperty, TASK_MESSAGE_VERSION, TaskMessage } from '../message';
import { decodeTaskMessage, encodeTaskMessage } from './envelope';

const message: TaskMessage = {
  version: TASK_MESSAGE_VERSION,
  taskId: 'task-1',
  taskType: 'DEPLOYMENT',
  configHash: 'abc123',
  publishedBy: 'master-1',
  publishedAt: '2026-01-02T03:04:05.678Z',
};

describe('task message envelope', () => {
  it('is durable, has the id task/publication and carries every field as an application property by its wire name', () => {
    const amqp = encodeTaskMessage(message);
    expect(amqp.durable).toBe(true);
    expect(amqp.message_id).toBe('task-1/2026-01-02T03:04:05.678Z');
    expect(amqp.content_type).toBe('application/json');
    expect(amqp.application_properties).toEqual({
      [MessageProperty.version]: 1,
      [MessageProperty.taskId]: 'task-1',
      [MessageProperty.taskType]: 'DEPLOYMENT',
      [MessageProperty.configHash]: 'abc123',
      [MessageProperty.publishedBy]: 'master-1',
      [MessageProperty.publishedAt]: '2026-01-02T03:04:05.678Z',
    });
    expect(JSON.parse(amqp.body as string)).toEqual(message);
  });

  it('round-trips, from a string value or from a data section', () => {
    const json = JSON.stringify(message);
    expect(decodeTaskMessage(encodeTaskMessage(message))).toEqual({ ok: true, message });
    expect(decodeTaskMessage({ body: Buffer.from(json) })).toEqual({ ok: true, message });
    expect(decodeTaskMessage({ body: { typecode: 0x75, content: Buffer.from(json) } })).toEqual({ ok: true, message });
  });

  it('keeps only the message fields', () => {
    const decoded = decodeTaskMessage({ body: JSON.stringify({ ...message, extra: 'x' }) });
    expect(decoded).toEqual({ ok: true, message });
  });

  it('passes a message of an unknown version on (refusing it is the consumer’s decision)', () => {
    const decoded = decodeTaskMessage({ body: JSON.stringify({ ...message, version: 2, taskType: 'NEW_KIND' }) });
    expect(decoded.ok && decoded.message.version).toBe(2);
  });

  it.each([
    ['no body', undefined, /empty/],
    ['a number body', 42, /a number/],
    ['text that is not JSON', 'deploy please', /not JSON/],
    ['a JSON array', '[1,2]', /not a JSON object/],
    ['a missing version', JSON.stringify({ ...message, version: undefined }), /version/],
    ['an empty task id', JSON.stringify({ ...message, taskId: '' }), /taskId/],
    ['a missing config hash', JSON.stringify({ ...message, configHash: undefined }), /configHash/],
    ['an unknown task type', JSON.stringify({ ...message, taskType: 'REBOOT' }), /taskType "REBOOT"/],
  ])('says why a message with %s is malformed', (_case, body, reason) => {
    const decoded = decodeTaskMessage({ body });
    expect(decoded.ok).toBe(false);
    expect(!decoded.ok && decoded.reason).toMatch(reason);
  });
});

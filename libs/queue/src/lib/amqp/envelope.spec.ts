import { MessageProperty, TASK_MESSAGE_VERSION, TaskMessage } from '../message';
import { decodeTaskMessage, encodeTaskMessage, isWellFormed } from './envelope';

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

  // The hand-written check (the path of every message) and the validated shapes agree.
  it.each([
    ['a message', message, true],
    ['a signed message', { ...message, signature: 's'.repeat(128) }, true],
    ['an empty signature', { ...message, signature: '' }, true],
    ['an extra field', { ...message, extra: 1 }, true],
    ['an unknown version with an unknown task type', { ...message, version: 2, taskType: 'NEW_KIND' }, true],
    ['a version as text', { ...message, version: '1' }, false],
    ['an empty publisher', { ...message, publishedBy: '' }, false],
    ['a missing publication time', { ...message, publishedAt: undefined }, false],
    ['a numeric task id', { ...message, taskId: 7 }, false],
    ['a task type of this version unknown to it', { ...message, taskType: 'REBOOT' }, false],
    ['a signature too long', { ...message, signature: 's'.repeat(129) }, false],
    ['a signature that is not text', { ...message, signature: 5 }, false],
  ])('takes the same decision for %s by hand as through the validated shapes', (_case, fields, ok) => {
    expect(isWellFormed(fields)).toBe(ok);
    expect(decodeTaskMessage({ body: JSON.stringify(fields) }).ok).toBe(ok);
  });

  it('leaves a null signature to the validated shapes', () => {
    expect(isWellFormed({ ...message, signature: null })).toBe(false);
    expect(decodeTaskMessage({ body: JSON.stringify({ ...message, signature: null }) }).ok).toBe(true);
  });
});

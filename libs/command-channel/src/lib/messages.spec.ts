import { decodeMasterMessage, decodeWorkerMessage, isKnownCommand } from './messages';
import { WorkerRegistration } from './protocol';

const registration: WorkerRegistration = {
  protocolVersion: 2,
  workerId: 'w-1',
  name: 'worker one',
  address: 'host-1:9001',
  configHash: 'abc',
  capacity: 4,
  state: 'RUNNING',
  tasks: [{ id: 't-1', type: 'DEPLOYMENT', state: 'EXECUTING' }],
};

describe('decodeWorkerMessage', () => {
  it('reads every message a worker sends', () => {
    for (const message of [
      { type: 'register', registration },
      { type: 'heartbeat', state: 'DRAINING', runningTasks: ['t-1'] },
      { type: 'reply', requestId: 'r-1', reply: { ok: true, message: 'stopping', data: { n: 1 } } },
      { type: 'reply', requestId: 'r-2', reply: { ok: false, message: '' } },
      { type: 'goodbye', reason: 'worker shutting down' },
    ]) {
      expect(decodeWorkerMessage(message)).toEqual({ kind: 'message', message });
    }
  });

  it('keeps only the known fields', () => {
    const decoded = decodeWorkerMessage({ type: 'heartbeat', state: 'RUNNING', runningTasks: [], extra: 1 });
    expect(decoded).toEqual({ kind: 'message', message: { type: 'heartbeat', state: 'RUNNING', runningTasks: [] } });
  });

  it('leaves unknown types to the caller (a newer peer)', () => {
    expect(decodeWorkerMessage({ type: 'metrics', cpu: 3 })).toEqual({ kind: 'unknown', type: 'metrics' });
  });

  it.each([
    [{ type: 'register' }, 'invalid register message: registration must be an object'],
    [{ type: 'register', registration: { ...registration, workerId: '' } }, 'registration.workerId must be a non-empty string'],
    [{ type: 'register', registration: { ...registration, capacity: -1 } }, 'registration.capacity must be a non-negative integer'],
    [{ type: 'register', registration: { ...registration, state: 'SLEEPING' } }, 'registration.state must be one of RUNNING, DRAINING'],
    [
      { type: 'register', registration: { ...registration, tasks: [{ id: 't', type: 'DEPLOYMENT', state: 'NAPPING' }] } },
      'registration.tasks[0].state must be one of',
    ],
    [{ type: 'heartbeat', state: 'RUNNING', runningTasks: [1] }, 'runningTasks must be an array of non-empty strings'],
    [{ type: 'reply', requestId: 'r', reply: { ok: 'yes', message: '' } }, 'reply.ok must be true or false'],
    [{ type: 'reply', requestId: 'r', reply: 'yes' }, 'invalid reply message: reply must be an object'],
    [{ type: 'reply', reply: { ok: true, message: '' } }, 'invalid reply message: requestId must be a non-empty string of at most 128 characters'],
    [{ type: 'register', registration: { ...registration, tasks: [5] } }, 'registration.tasks[0] must be an object'],
    [{ type: 'register', registration: { ...registration, tasks: 'none' } }, 'registration.tasks must be an array'],
  ])('refuses a known type with bad fields: %j', (frame, reason) => {
    const decoded = decodeWorkerMessage(frame);
    expect(decoded.kind).toBe('invalid');
    expect(decoded.kind === 'invalid' && decoded.reason).toContain(reason);
  });
});

describe('field limits', () => {
  const long = (n: number) => 'x'.repeat(n + 1);
  it.each([
    ['workerId', { workerId: long(128) }, 'registration.workerId must be a non-empty string of at most 128 characters'],
    ['workerId blanks', { workerId: 'w 1' }, 'registration.workerId must be printable ASCII without blanks'],
    ['name', { name: long(256) }, 'registration.name must be at most 256 characters long'],
    ['name controls', { name: 'a\u001b[31mred' }, 'registration.name must not contain control characters'],
    ['address', { address: long(512) }, 'registration.address must be at most 512 characters long'],
    ['configHash', { configHash: long(128) }, 'registration.configHash must be at most 128 characters long'],
    [
      'tasks',
      { tasks: Array.from({ length: 5001 }, (_, i) => ({ id: `t${i}`, type: 'DEPLOYMENT', state: 'EXECUTING' })) },
      'registration.tasks must list at most 5000 tasks',
    ],
    ['task id', { tasks: [{ id: long(128), type: 'DEPLOYMENT', state: 'EXECUTING' }] }, 'registration.tasks[0].id must be'],
  ])('refuses a registration whose %s is too long or unprintable', (_, fields, reason) => {
    const decoded = decodeWorkerMessage({ type: 'register', registration: { ...registration, ...fields } });
    expect(decoded.kind === 'invalid' && decoded.reason).toContain(reason);
  });

  it('caps heartbeats, replies, goodbyes and proofs', () => {
    const reasons = [
      { type: 'heartbeat', state: 'RUNNING', runningTasks: [long(128)] },
      { type: 'reply', requestId: 'r', reply: { ok: true, message: long(4096) } },
      { type: 'goodbye', reason: long(4096) },
      { type: 'register', registration, proof: { nonce: long(128), mac: 'm' } },
    ].map((frame) => decodeWorkerMessage(frame));
    expect(reasons.map((d) => d.kind)).toEqual(['invalid', 'invalid', 'invalid', 'invalid']);
  });

  it('keeps a register proof and reads hello and a welcome proof', () => {
    const proof = { nonce: 'n', mac: 'm' };
    expect(decodeWorkerMessage({ type: 'register', registration, proof })).toEqual({
      kind: 'message',
      message: { type: 'register', registration, proof },
    });
    const hello = { type: 'hello', protocolVersion: 2, nonce: 'abc', hmac: true };
    expect(decodeMasterMessage(hello)).toEqual({ kind: 'message', message: hello });
    const welcome = { type: 'welcome', masterId: 'm', configHash: 'h', proof: 'p' };
    expect(decodeMasterMessage(welcome)).toEqual({ kind: 'message', message: welcome });
  });
});

describe('decodeMasterMessage', () => {
  it('reads welcome, commands and goodbye', () => {
    for (const message of [
      { type: 'welcome', masterId: 'm-1', configHash: 'abc' },
      { type: 'command', requestId: 'r-1', command: { kind: 'stop', taskId: 't-1' } },
      { type: 'command', requestId: 'r-2', command: { kind: 'drain' } },
      { type: 'goodbye', reason: 'master shutting down' },
    ]) {
      expect(decodeMasterMessage(message)).toEqual({ kind: 'message', message });
    }
  });

  it('passes commands of unknown kinds through for the worker to refuse', () => {
    const decoded = decodeMasterMessage({ type: 'command', requestId: 'r', command: { kind: 'reboot', when: 'now' } });
    expect(decoded.kind).toBe('message');
    const command = decoded.kind === 'message' && decoded.message.type === 'command' ? decoded.message.command : undefined;
    expect(command).toEqual({ kind: 'reboot', when: 'now' });
    expect(isKnownCommand(command!)).toBe(false);
    expect(isKnownCommand({ kind: 'abort', taskId: 't' })).toBe(true);
  });

  it('refuses a command without a request id, naming the field', () => {
    expect(decodeMasterMessage({ type: 'command', command: { kind: 'drain' } })).toEqual({
      kind: 'invalid',
      reason: 'invalid command message: requestId must be a non-empty string of at most 128 characters',
    });
  });

  it('refuses a stop without a task id', () => {
    expect(decodeMasterMessage({ type: 'command', requestId: 'r', command: { kind: 'stop' } })).toEqual({
      kind: 'invalid',
      reason: 'invalid command message: command.taskId must be a non-empty string of at most 128 characters',
    });
  });
});

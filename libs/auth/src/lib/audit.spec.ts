import { capturingLogger } from '../testing/auth-kit';
import { InMemoryAuthStore } from '../testing/in-memory-auth-store';
import { StoreAuditRecorder, outcomeOfStatus, recordSafely } from './audit';
import { NewAuditEntry } from './store';

const entry: NewAuditEntry = {
  at: '2026-03-01T12:00:00.000Z',
  userId: 'u1',
  username: 'alice',
  tokenId: null,
  action: 'POST /api/v1/hosts',
  objectIds: {},
  outcome: 'succeeded',
  status: 201,
  sourceIp: '10.0.0.1',
  taskId: null,
  detail: null,
};

describe('audit', () => {
  it('the store recorder appends to the store', async () => {
    const store = new InMemoryAuthStore();
    await new StoreAuditRecorder(store).record(entry);
    expect(await store.listAudit({ limit: 10 })).toEqual([{ ...entry, seq: 1 }]);
  });

  it('recordSafely logs an entry that could not be recorded instead of throwing', async () => {
    const { logger, lines } = capturingLogger();
    const failing = { record: () => Promise.reject(new Error('database not available')) };
    await expect(recordSafely(failing, entry, logger)).resolves.toBeUndefined();
    const line = JSON.parse(lines().trim()) as { level: string; message: string; audit: NewAuditEntry };
    expect(line.level).toBe('error');
    expect(line.message).toBe('audit entry not recorded: database not available');
    expect(line.audit).toEqual(entry);
  });

  it.each([
    [200, 'succeeded'],
    [204, 'succeeded'],
    [302, 'succeeded'],
    [400, 'failed'],
    [401, 'denied'],
    [403, 'denied'],
    [404, 'failed'],
    [409, 'failed'],
    [429, 'denied'],
    [500, 'failed'],
  ])('status %i is %s', (status, outcome) => {
    expect(outcomeOfStatus(status)).toBe(outcome);
  });
});

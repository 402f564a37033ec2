import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretBox } from '@shipdeck/domain';
import { stepContext, tempDir } from '../testing/step-context';
import { createRegistry } from './loader';
import { withSecrets } from './secret-steps';

const registry = createRegistry();
const box = new SecretBox(new Uint8Array(randomBytes(32)));
const SECRET = 'Tr0ub4dor&3-secret';

/** cmd.Command properties as the planner resolves them, with `{{PW}}` a sealed secret. */
function resolved(create: string): Record<string, unknown> {
  const sealed = box.seal(SECRET);
  return registry.resolvePlaceholders('cmd.Command', { create }, (key) => (key === 'PW' ? sealed : undefined), 'app');
}

describe('withSecrets', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it('gives the command the value and masks it in the log, the $ line and the failure', async () => {
    const properties = resolved(`printf '%s' {{PW}} | sha256sum > digest; echo "pw is {{PW}}"; echo "{{PW}}" >&2; exit 3`);
    expect(JSON.stringify(properties)).not.toContain(SECRET);
    const ctx = stepContext('cmd.Command', 'CREATE', properties, dir.path);
    const executors = withSecrets(registry.executorFor, box);
    await expect(executors('cmd.Command').execute(ctx)).rejects.toThrow(/exit/);
    expect(readFileSync(join(dir.path, 'digest'), 'utf8').split(' ')[0]).toBe(createHash('sha256').update(SECRET).digest('hex'));
    expect(ctx.output()).toContain('pw is ******');
    expect(ctx.output()).not.toContain(SECRET);
  });

  it('masks a value in an error message of the step', async () => {
    const ctx = stepContext('cmd.Command', 'CREATE', resolved('true {{PW}}'), dir.path);
    const failing = withSecrets(() => ({ execute: async () => Promise.reject(new Error(`could not use ${SECRET}`)) }), box);
    await expect(failing('cmd.Command').execute(ctx)).rejects.toThrow('could not use ******');
  });

  it('fails a step whose secret another key sealed, naming both keys, without running it', async () => {
    const other = new SecretBox(new Uint8Array(randomBytes(32)));
    const ctx = stepContext('cmd.Command', 'CREATE', resolved('touch ran; echo {{PW}}'), dir.path);
    await expect(withSecrets(registry.executorFor, other)('cmd.Command').execute(ctx)).rejects.toThrow(
      `cannot open the step's secrets: a secret was sealed with secrets key ${box.keyId}, but this process has secrets key ${other.keyId}`,
    );
    await expect(withSecrets(registry.executorFor, null)('cmd.Command').execute(ctx)).rejects.toThrow('this process has no secrets key');
    expect(() => readFileSync(join(dir.path, 'ran'))).toThrow();
  });

  it('opens secret host properties for the step', async () => {
    const seen: unknown[] = [];
    const ctx = stepContext('x', 'CREATE', {}, dir.path, { password: box.seal(SECRET) });
    await withSecrets(() => ({ execute: async (c) => void seen.push(c.step.target.properties) }), box)('x').execute(ctx);
    expect(seen).toEqual([{ password: SECRET }]);
  });
});

import { SecretBox, SecretMasker, SecretUnavailableError, holdsSealed, mapStringsDeep, sealedPattern, wrongKey } from '@shipdeck/domain';
import { PlanStep, StepContext, StepExecutor, StepExecutorLookup } from '@shipdeck/tasks';

/**
 * Step executors that see secrets and show none: before a step runs, every sealed value in its
 * properties and its target's properties is opened with `box`; the step's log, and the message
 * of its failure, mask each opened value (also where one is split across chunks of output).
 * A step whose secrets cannot be opened (no key, another key) fails saying so; the worker goes on.
 *
 * @param box this process's secrets key; null when it has none.
 */
export function withSecrets(executors: StepExecutorLookup, box: SecretBox | null): StepExecutorLookup {
  return (ciType) => {
    const executor = executors(ciType);
    return { execute: (ctx) => executeOpened(executor, ctx, box) };
  };
}

async function executeOpened(executor: StepExecutor, ctx: StepContext, box: SecretBox | null): Promise<void> {
  const opened = new Set<string>();
  let step: PlanStep;
  try {
    step = {
      ...ctx.step,
      properties: openDeep(ctx.step.properties, box, opened),
      target: ctx.step.target.properties ? { ...ctx.step.target, properties: openDeep(ctx.step.target.properties, box, opened) } : ctx.step.target,
    };
  } catch (error) {
    if (error instanceof SecretUnavailableError) throw new Error(`cannot open the step's secrets: ${error.message}`);
    throw error;
  }
  if (opened.size === 0) return executor.execute(ctx);

  const masker = new SecretMasker(opened);
  const log = (text: string) => {
    const shown = masker.write(text);
    if (shown !== '') ctx.log(shown);
  };
  try {
    await executor.execute({ taskId: ctx.taskId, workDir: ctx.workDir, signal: ctx.signal, step, log });
  } catch (error) {
    if (!(error instanceof Error)) throw new Error(masker.mask(String(error)));
    error.message = masker.mask(error.message);
    if (error.stack !== undefined) error.stack = masker.mask(error.stack);
    throw error;
  } finally {
    const rest = masker.end();
    if (rest !== '') ctx.log(rest);
  }
}

/** A copy of `value` with every sealed value in its strings opened; each plaintext is added to `opened`. */
function openDeep<T>(value: T, box: SecretBox | null, opened: Set<string>): T {
  return mapStringsDeep(value, (text) => {
    if (!holdsSealed(text)) return text;
    if (!box) throw wrongKey(sealedPattern().exec(text)?.[1] ?? 'unknown', null);
    return box.openAll(text, opened);
  });
}

import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelayMs } from '@shipdeck/lifecycle';
import { StepContext } from '@shipdeck/tasks';
import { ShipdeckPlugin, describeDeploymentStep } from '../plugin';
import { propertyCiType } from '../property-ci-type';
import { errorMessageWithCause } from '../error-text';
import { PropertyReader } from '../properties';

const TYPE = 'http.Check';
const MAX_RETRY_DELAY_MS = 30_000;

interface CheckProperties {
  url: string;
  expectStatus: number;
  retries: number;
  retryDelayMs: number;
  timeoutMs: number;
}

function read(reader: PropertyReader): CheckProperties {
  return {
    url: reader.url('url', true),
    expectStatus: reader.integer('expectStatus', 100, 599) ?? 200,
    retries: reader.integer('retries', 0, 1000) ?? 5,
    retryDelayMs: reader.duration('retryDelay', false) ?? 1_000,
    timeoutMs: reader.duration('timeout', true) ?? 10_000,
  };
}

async function execute(ctx: StepContext, props: CheckProperties): Promise<void> {
  if (ctx.step.operation === 'DESTROY') return;
  try {
    await checkUntilExpected(props, ctx);
  } catch (error) {
    if (ctx.signal.aborted) throw new Error('aborted');
    throw error;
  }
}

async function checkUntilExpected(props: CheckProperties, ctx: StepContext): Promise<void> {
  const attempts = props.retries + 1;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    ctx.signal.throwIfAborted();
    last = await tryOnce(props, ctx.signal);
    ctx.log(`attempt ${attempt}/${attempts}: GET ${props.url} → ${last}\n`);
    if (last === String(props.expectStatus)) return;
    if (attempt < attempts) await delay(retryDelayMs(attempt, props.retryDelayMs), undefined, { signal: ctx.signal });
  }
  throw new Error(`${props.url} did not answer ${props.expectStatus} in ${attempts} attempt(s); last: ${last}`);
}

/**
 * The wait after attempt `attempt` (1 for the first): `retryDelay` first, doubled after each
 * further attempt up to 30 s; a `retryDelay` above 30 s is waited once as given.
 */
function retryDelayMs(attempt: number, retryDelay: number): number {
  return attempt === 1 ? retryDelay : backoffDelayMs(attempt - 1, { initialDelayMs: retryDelay, maxDelayMs: MAX_RETRY_DELAY_MS });
}

/** One GET; answers the status, or what went wrong, as text. Rejects only when the step is aborted. */
async function tryOnce(props: CheckProperties, stepSignal: AbortSignal): Promise<string> {
  const timeout = AbortSignal.timeout(props.timeoutMs);
  const both = new AbortController();
  const abortBoth = () => both.abort();
  stepSignal.addEventListener('abort', abortBoth);
  timeout.addEventListener('abort', abortBoth);
  if (stepSignal.aborted) both.abort();
  try {
    const response = await fetch(props.url, {
      signal: both.signal,
      // A check for a redirect status must see the redirect itself.
      redirect: props.expectStatus >= 300 && props.expectStatus < 400 ? 'manual' : 'follow',
    });
    await response.body?.cancel();
    return String(response.status);
  } catch (error) {
    stepSignal.throwIfAborted();
    if (timeout.aborted) return `no answer within ${props.timeoutMs} ms`;
    return errorMessageWithCause(error);
  } finally {
    stepSignal.removeEventListener('abort', abortBoth);
    timeout.removeEventListener('abort', abortBoth);
  }
}


/**
 * `http.Check`: GETs `url` until it answers `expectStatus` (200). `retries` (5) further attempts
 * after the first, waiting `retryDelay` (1s) before the next one, doubled each time up to 30 s;
 * each attempt gives up after `timeout` (10s). Runs on CREATE and MODIFY only. Default order 90.
 */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-http',
  ciTypes: [
    propertyCiType({
      name: TYPE,
      defaultOrder: 90,
      read,
      describeStep: (operation, subject) => (operation === 'DESTROY' ? undefined : describeDeploymentStep(operation, subject)),
      execute,
    }),
  ],
};

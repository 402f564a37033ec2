import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { backoffDelayMs } from '@shipdeck/lifecycle';
import { StepContext } from '@shipdeck/tasks';
import { ShipdeckPlugin, describeDeploymentStep } from '../plugin';
import { propertyCiType } from '../property-ci-type';
import { errorMessageWithCause } from '../error-text';
import { PropertyReader } from '../properties';

const TYPE = 'http.Check';
const MAX_RETRY_DELAY_MS = 30_000;
/** Redirects followed per attempt. */
const MAX_REDIRECTS = 5;

/** The host property naming the kinds of address a check on that host may reach anyway. */
export const ALLOW_ADDRESSES_PROPERTY = 'httpCheckAllow';

/** Kinds of address a check refuses by default: they reach the worker itself or its cloud's secrets. */
export const REFUSED_ADDRESS_KINDS = ['loopback', 'link-local', 'metadata', 'unspecified'] as const;
export type AddressKind = (typeof REFUSED_ADDRESS_KINDS)[number];

const ADDRESS_KINDS: ReadonlyArray<[AddressKind, BlockList]> = [
  // Cloud metadata services first: they sit inside link-local ranges, and allowing link-local must not allow them.
  ['metadata', blockList((b) => {
    for (const a of ['169.254.169.254', '169.254.170.2', '100.100.100.200']) b.addAddress(a, 'ipv4');
    b.addAddress('fd00:ec2::254', 'ipv6');
  })],
  ['loopback', blockList((b) => {
    b.addSubnet('127.0.0.0', 8, 'ipv4');
    b.addAddress('::1', 'ipv6');
  })],
  ['link-local', blockList((b) => {
    b.addSubnet('169.254.0.0', 16, 'ipv4');
    b.addSubnet('fe80::', 10, 'ipv6');
  })],
  ['unspecified', blockList((b) => {
    b.addSubnet('0.0.0.0', 8, 'ipv4');
    b.addAddress('::', 'ipv6');
  })],
];

function blockList(fill: (list: BlockList) => void): BlockList {
  const list = new BlockList();
  fill(list);
  return list;
}

/** The kind of a refused-by-default address, or undefined for any other address. */
export function addressKind(address: string): AddressKind | undefined {
  // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address it maps.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address;
  const family = isIP(ip) === 6 ? 'ipv6' : 'ipv4';
  return ADDRESS_KINDS.find(([, list]) => list.check(ip, family))?.[0];
}

/** A check that must not be made: failing the step at once, without retries. */
class RefusedUrlError extends Error {}


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
  const allowed = allowedKinds(ctx);
  try {
    await checkUntilExpected(props, ctx, allowed);
  } catch (error) {
    if (ctx.signal.aborted) throw new Error('aborted');
    throw error;
  }
}

/** The kinds of address the step's host allows checks to reach (host property `httpCheckAllow`). */
function allowedKinds(ctx: StepContext): ReadonlySet<AddressKind> {
  const value = ctx.step.target.properties?.[ALLOW_ADDRESSES_PROPERTY];
  if (value === undefined) return new Set();
  const kinds = Array.isArray(value) ? value : [value];
  for (const kind of kinds) {
    if (!(REFUSED_ADDRESS_KINDS as readonly unknown[]).includes(kind)) {
      throw new Error(`host ${ctx.step.target.name}: ${ALLOW_ADDRESSES_PROPERTY} may list only ${REFUSED_ADDRESS_KINDS.join(', ')}`);
    }
  }
  return new Set(kinds as AddressKind[]);
}

/**
 * Refuses a URL whose host is, or resolves to, an address of a kind the host does not allow.
 * Checked before every request and every redirect; a name that resolves differently between
 * this check and the connection (DNS rebinding) is not caught.
 */
async function refuseForbiddenAddress(url: URL, allowed: ReadonlySet<AddressKind>, hostName: string): Promise<void> {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
    } catch {
      // A name that does not resolve reaches nothing; the attempt reports the failure.
      return;
    }
  }
  for (const address of addresses) {
    const kind = addressKind(address);
    if (kind && !allowed.has(kind)) {
      throw new RefusedUrlError(
        `refused to check ${url.href}: ${url.hostname} is a ${kind} address (${address}); ` +
          `allow it with the host property ${ALLOW_ADDRESSES_PROPERTY}: ["${kind}"] on host ${hostName}`,
      );
    }
  }
}

async function checkUntilExpected(props: CheckProperties, ctx: StepContext, allowed: ReadonlySet<AddressKind>): Promise<void> {
  const attempts = props.retries + 1;
  let last = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    ctx.signal.throwIfAborted();
    last = await tryOnce(props, ctx.signal, (url) => refuseForbiddenAddress(url, allowed, ctx.step.target.name));
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

/**
 * One GET, following redirects itself so that each one is checked by `vet`; answers the status,
 * or what went wrong, as text. Rejects when the step is aborted or `vet` refuses a URL.
 */
async function tryOnce(props: CheckProperties, stepSignal: AbortSignal, vet: (url: URL) => Promise<void>): Promise<string> {
  const timeout = AbortSignal.timeout(props.timeoutMs);
  const both = new AbortController();
  const abortBoth = () => both.abort();
  stepSignal.addEventListener('abort', abortBoth);
  timeout.addEventListener('abort', abortBoth);
  if (stepSignal.aborted) both.abort();
  // A check for a redirect status must see the redirect itself.
  const follow = !(props.expectStatus >= 300 && props.expectStatus < 400);
  try {
    let url = new URL(props.url);
    for (let hop = 0; ; hop++) {
      await vet(url);
      const response = await fetch(url, { signal: both.signal, redirect: 'manual' });
      await response.body?.cancel();
      const location = response.headers.get('location');
      if (!follow || response.status < 300 || response.status >= 400 || location === null) return String(response.status);
      if (hop === MAX_REDIRECTS) return `more than ${MAX_REDIRECTS} redirects`;
      url = new URL(location, url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return `redirect to a ${url.protocol} URL`;
    }
  } catch (error) {
    if (error instanceof RefusedUrlError) throw error;
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
 * Loopback, link-local, cloud metadata and unspecified addresses are refused, also as redirect
 * targets, unless the step's host lists the kind in `httpCheckAllow`.
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

/**
 * Reading `/metrics` of real processes in tests: scrape, parse the Prometheus text format, name a
 * series. The metric names and meanings are in docs/observability.md.
 */
import { expectStatus, request } from './rest-client';

/** The samples of a text exposition, by series with its labels sorted (`name{a="1",b="2"}`). */
export function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line of the text format: ${line}`);
    const [, name, labels = '', value] = match;
    samples.set(`${name}{${labels.split(/,(?=[a-z_]+=")/).filter(Boolean).sort().join(',')}}`, Number(value));
  }
  return samples;
}

/** `name{labels}` as {@link parseExposition} keys it. */
export function series(name: string, labels: Record<string, string> = {}): string {
  return `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).sort().join(',')}}`;
}

/** Scrapes `url` (no credentials) and parses it, after checking the media type of the text format. */
export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await request('GET', url, undefined, { authorization: null });
  expectStatus(res, 200, `GET ${url}: `);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseExposition(res.text);
}

/** A worker's `/metrics` URL, from its address as a master lists it (`host:port` of its HTTP port). */
export function workerMetricsUrl(worker: { address: string }): string {
  return `http://127.0.0.1:${worker.address.split(':').pop()}/metrics`;
}

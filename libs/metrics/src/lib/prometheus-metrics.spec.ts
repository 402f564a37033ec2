import { PrometheusMetrics } from './prometheus-metrics';

/**
 * The value of one sample (`name{labels} value`) of a text exposition, whatever the order of its
 * labels; undefined when absent.
 */
function sample(text: string, series: string): number | undefined {
  const key = (s: string) => {
    const [, name, labels = ''] = /^([^{ ]+)(?:\{(.*)\})?$/.exec(s) ?? [];
    return `${name}{${labels.split(',').filter(Boolean).sort().join(',')}}`;
  };
  const wanted = key(series);
  const line = text.split('\n').find((l) => !l.startsWith('#') && l.includes(' ') && key(l.slice(0, l.lastIndexOf(' '))) === wanted);
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('PrometheusMetrics', () => {
  it('renders the sinks\' observations under their names, labelled by component', async () => {
    const metrics = new PrometheusMetrics({ component: 'master', processMetrics: false });
    metrics.httpRequest({ method: 'GET', route: '/api/v1/tasks/:id', status: 200, durationSeconds: 0.02 });
    metrics.taskMessagePublished('published');
    metrics.taskMessagePublished('published');
    metrics.taskMessagePublished('failed');
    metrics.reconcilerRepublished();
    metrics.stepEnded({ stepType: 'shell.Command', outcome: 'FAILED', durationSeconds: 3 });
    metrics.taskMessageRedelivered();
    metrics.brokerReconnected();
    metrics.brokerReconnected();
    metrics.databaseReconnected();
    const text = await metrics.render();
    expect(sample(text, 'shipdeck_http_request_duration_seconds_count{method="GET",route="/api/v1/tasks/:id",status="200",component="master"}')).toBe(1);
    expect(sample(text, 'shipdeck_task_messages_published_total{outcome="published",component="master"}')).toBe(2);
    expect(sample(text, 'shipdeck_task_messages_published_total{outcome="failed",component="master"}')).toBe(1);
    expect(sample(text, 'shipdeck_reconciler_republished_total{component="master"}')).toBe(1);
    expect(sample(text, 'shipdeck_step_duration_seconds_bucket{le="1",step_type="shell.Command",outcome="FAILED",component="master"}')).toBe(0);
    expect(sample(text, 'shipdeck_step_duration_seconds_bucket{le="5",step_type="shell.Command",outcome="FAILED",component="master"}')).toBe(1);
    expect(sample(text, 'shipdeck_task_messages_redelivered_total{component="master"}')).toBe(1);
    expect(sample(text, 'shipdeck_broker_reconnects_total{component="master"}')).toBe(2);
    expect(sample(text, 'shipdeck_database_reconnects_total{component="master"}')).toBe(1);
    expect(metrics.contentType).toMatch(/^text\/plain/);
  });

  it('counts tasks at scrape time, and a failed count as a collect failure rather than a failed scrape', async () => {
    const metrics = new PrometheusMetrics({ component: 'master', processMetrics: false });
    let answer: () => Promise<{ state: string; type: string; count: number }[]> = async () => [
      { state: 'QUEUED', type: 'deployment', count: 3 },
    ];
    metrics.watchTasks(() => answer());
    expect(sample(await metrics.render(), 'shipdeck_tasks{state="QUEUED",type="deployment",component="master"}')).toBe(3);
    answer = async () => {
      throw new Error('database unreachable');
    };
    const text = await metrics.render();
    expect(sample(text, 'shipdeck_tasks{state="QUEUED",type="deployment",component="master"}')).toBeUndefined();
    expect(sample(text, 'shipdeck_metrics_collect_failures_total{collector="tasks",component="master"}')).toBe(1);
  });

  it('counts workers by state and follows a runtime\'s takeover total without counting twice', async () => {
    const metrics = new PrometheusMetrics({ component: 'worker', processMetrics: false });
    metrics.watchWorkers(async () => ['CONNECTED', 'CONNECTED', 'DRAINING']);
    const gauges = { capacity: 4, running: 1, ghosts: 0, takeovers: 2 };
    metrics.watchWorkerRuntime(() => gauges);
    let text = await metrics.render();
    expect(sample(text, 'shipdeck_workers{state="CONNECTED",component="worker"}')).toBe(2);
    expect(sample(text, 'shipdeck_workers{state="DRAINING",component="worker"}')).toBe(1);
    expect(sample(text, 'shipdeck_worker_capacity{component="worker"}')).toBe(4);
    expect(sample(text, 'shipdeck_worker_takeovers_total{component="worker"}')).toBe(2);
    text = await metrics.render();
    expect(sample(text, 'shipdeck_worker_takeovers_total{component="worker"}')).toBe(2);
    gauges.takeovers = 3;
    expect(sample(await metrics.render(), 'shipdeck_worker_takeovers_total{component="worker"}')).toBe(3);
  });

  it('exports only the series of the parts a process runs', async () => {
    const names = async (metrics: PrometheusMetrics) =>
      new Set((await metrics.render()).split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]));
    const WORKER_SERIES = ['shipdeck_task_queued_to_claimed_seconds', 'shipdeck_step_duration_seconds', 'shipdeck_task_messages_delivered_total'];
    const MASTER_SERIES = ['shipdeck_http_request_duration_seconds', 'shipdeck_task_messages_published_total'];
    const BOTH = ['shipdeck_broker_reconnects_total', 'shipdeck_database_reconnects_total'];

    // A master of a cluster: no empty worker histograms.
    const clusterMaster = await names(new PrometheusMetrics({ component: 'master', processMetrics: false, roles: { master: true, worker: false } }));
    for (const name of [...MASTER_SERIES, ...BOTH]) expect([name, clusterMaster.has(name)]).toEqual([name, true]);
    for (const name of WORKER_SERIES) expect([name, clusterMaster.has(name)]).toEqual([name, false]);
    // A worker: no master series.
    const worker = await names(new PrometheusMetrics({ component: 'worker', processMetrics: false }));
    for (const name of [...WORKER_SERIES, ...BOTH]) expect([name, worker.has(name)]).toEqual([name, true]);
    for (const name of MASTER_SERIES) expect([name, worker.has(name)]).toEqual([name, false]);
    // The embedded default (a master with its in-process worker): both.
    const embedded = await names(new PrometheusMetrics({ component: 'master', processMetrics: false }));
    for (const name of [...MASTER_SERIES, ...WORKER_SERIES, ...BOTH]) expect([name, embedded.has(name)]).toEqual([name, true]);
  });

  it('includes the process metrics unless told not to', async () => {
    expect(await new PrometheusMetrics({ component: 'worker' }).render()).toContain('process_cpu_user_seconds_total');
  });
});

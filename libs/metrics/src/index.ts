export {
  NO_METRICS,
  type DatabaseMetrics,
  type HttpMetrics,
  type HttpRequestObservation,
  type PublishOutcome,
  type QueueMetrics,
  type StepObservation,
  type TaskMessageMetrics,
  type WorkerRuntimeMetrics,
} from './lib/sinks';
export {
  PrometheusMetrics,
  type PrometheusMetricsOptions,
  type TaskCount,
  type WorkerRuntimeGauges,
} from './lib/prometheus-metrics';

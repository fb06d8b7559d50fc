import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Forgeline's Prometheus metrics, served at /metrics. */
export const registry = new Registry();

export const hookMetrics = {
  requests: new Counter({
    name: 'forgeline_hook_requests_total',
    help: 'Requests on /hooks by forge and outcome (accepted, duplicate, ignored, or the refusing HTTP status)',
    labelNames: ['forge', 'outcome'] as const,
    registers: [registry],
  }),
  unaudited: new Counter({
    name: 'forgeline_hook_refusals_unaudited_total',
    help: 'Refused hook requests past the audit log\'s per-address limit: counted here, not written to the audit log or the server log',
    labelNames: ['forge', 'outcome'] as const,
    registers: [registry],
  }),
};

export const stageMetrics = {
  finished: new Counter({
    name: 'forgeline_stages_finished_total',
    help: 'Stages that reached a final state, by outcome',
    labelNames: ['status'] as const,
    registers: [registry],
  }),
  duration: new Histogram({
    name: 'forgeline_stage_duration_seconds',
    help: 'Time from a stage starting on a worker to its outcome',
    labelNames: ['status'] as const,
    buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
    registers: [registry],
  }),
};

export const checkoutMetrics = {
  prepared: new Counter({
    name: 'forgeline_prepared_checkouts_total',
    help: 'Checkouts made while a run was planned, by what became of them (taken by its stage, expired, failed, closed)',
    labelNames: ['outcome'] as const,
    registers: [registry],
  }),
};

export const reportMetrics = {
  failures: new Counter({
    name: 'forgeline_status_report_failures_total',
    help: 'Status reports the forge refused or failed, by forge and kind (permanent, rate_limited, error)',
    labelNames: ['forge', 'kind'] as const,
    registers: [registry],
  }),
};

/** Queue depths, read from pg-boss when /metrics is scraped. */
export const queueDepth = new Gauge({
  name: 'forgeline_queue_jobs',
  help: 'Jobs waiting (queued) and running (active) per queue',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

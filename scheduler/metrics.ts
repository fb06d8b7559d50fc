import { Counter, Histogram, Registry } from 'prom-client';

/** Forgeline's Prometheus metrics, served at /metrics: each room registers its own here. */
export const registry = new Registry();

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

import { Counter, Registry } from 'prom-client';

/** Forgeline's Prometheus metrics, served at /metrics. */
export const registry = new Registry();

export const hookMetrics = {
  requests: new Counter({
    name: 'forgeline_hook_requests_total',
    help: 'Requests on /hooks by forge and outcome (accepted, duplicate, ignored, or the refusing HTTP status)',
    labelNames: ['forge', 'outcome'] as const,
    registers: [registry],
  }),
};

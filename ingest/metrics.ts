import { Counter } from 'prom-client';
import { registry } from '../scheduler/metrics.ts';

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

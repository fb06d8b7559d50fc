import type { PgBoss } from 'pg-boss';
import { Gauge } from 'prom-client';
import { registry } from '../scheduler/metrics.ts';

/** Queue depths, read from pg-boss when /metrics is scraped. */
const queueDepth = new Gauge({
  name: 'forgeline_queue_jobs',
  help: 'Jobs waiting (queued) and running (active) per queue',
  labelNames: ['queue', 'state'] as const,
  registers: [registry],
});

/** Reads every queue's queued and active jobs into the `forgeline_queue_jobs` gauge. */
export async function refreshQueueDepth(boss: PgBoss): Promise<void> {
  for (const q of await boss.getQueues()) {
    queueDepth.set({ queue: q.name, state: 'queued' }, q.queuedCount);
    queueDepth.set({ queue: q.name, state: 'active' }, q.activeCount);
  }
}

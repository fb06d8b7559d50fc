import type { PgBoss } from 'pg-boss';
import { queueDepth } from '../scheduler/metrics.ts';

/** Reads every queue's queued and active jobs into the `forgeline_queue_jobs` gauge. */
export async function refreshQueueDepth(boss: PgBoss): Promise<void> {
  for (const q of await boss.getQueues()) {
    queueDepth.set({ queue: q.name, state: 'queued' }, q.queuedCount);
    queueDepth.set({ queue: q.name, state: 'active' }, q.activeCount);
  }
}

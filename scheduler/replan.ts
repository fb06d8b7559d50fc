import { deliveries } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { QUEUES, type PlanJob } from './queues.ts';

// At most this many deliveries are sent back to planning per pass.
const PER_PASS = 100;

/**
 * One monitor pass: each accepted delivery still unplanned `olderThanSeconds`
 * after it arrived gets a new plan job. Its first one was lost — fetched by a
 * process killed before it finished, or as the database went away — and
 * pg-boss may hold it `active` for a long time. The new job plans the
 * delivery only if nothing did meanwhile, so a slow queue costs a lookup.
 */
export async function replanLostDeliveries(deps: SchedulerDeps, olderThanSeconds: number): Promise<number> {
  const ids = await deliveries.unplannedDeliveries(deps.pool, olderThanSeconds, PER_PASS);
  for (const id of ids) {
    const job: PlanJob = { deliveryIds: [id], unlessPlanned: true };
    // Every worker runs this pass: one job per delivery and interval between them.
    await deps.boss.send(QUEUES.plan, job, { singletonKey: `replan:${id}`, singletonSeconds: olderThanSeconds });
  }
  if (ids.length) deps.log.warn({ deliveries: ids.length }, 'unplanned deliveries sent back to planning');
  return ids.length;
}

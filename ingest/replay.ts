import { audit, deliveries, newDeliveryId } from '../store/index.ts';
import type { SchedulerDeps } from '../scheduler/deps.ts';
import { planDelivery } from '../scheduler/plan.ts';

/**
 * POST /api/deliveries/<id>/replay: processes a stored delivery again as a
 * new delivery, past the duplicate rules, and answers the runs it started.
 */
export async function replayDelivery(deps: SchedulerDeps, id: string, actor: string): Promise<{ delivery: string; runs: number[] } | null> {
  const copy = newDeliveryId();
  if (!(await deliveries.copyForReplay(deps.pool, id, copy, actor))) return null;
  await audit(deps.pool, { actor, action: 'delivery.replay', reason: `${id} as ${copy}` });
  return { delivery: copy, runs: await planDelivery(deps, copy, { replay: true }) };
}

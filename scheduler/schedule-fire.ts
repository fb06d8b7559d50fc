import { createHash } from 'node:crypto';
import { blankEvent } from '../providers/event.ts';
import type { ForgeName } from '../providers/index.ts';
import { deliveries, newDeliveryId, repos, withTransaction } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { planDelivery } from './plan.ts';
import type { ScheduleJob } from './queues.ts';
import { defaultBranch, scheduleKey } from './schedules.ts';

/**
 * A schedule came due: a `schedule` event at the default branch's head,
 * stored as a delivery (so it is explained and listed like any other) and
 * planned for that one pipeline. The minute is part of its id: a schedule
 * that fires twice for one minute builds once.
 */
export async function fireSchedule(deps: SchedulerDeps, job: ScheduleJob, now = new Date()): Promise<number[]> {
  const repo = await repos.getRepo(deps.pool, job.repoId);
  if (!repo) return [];
  const head = await defaultBranch(deps, repo);
  if (!head) throw new Error(`the default branch of ${repo.name} could not be read from ${repo.cloneUrl}`);
  const event = blankEvent(repo.forge as ForgeName, 'schedule', repo.name, repo.cloneUrl);
  event.ref = `refs/heads/${head.branch}`;
  event.branch = head.branch;
  event.sha = head.sha;
  const id = newDeliveryId();
  const minute = now.toISOString().slice(0, 16);
  const body = Buffer.from(JSON.stringify({ schedule: { pipeline: job.pipeline, cron: job.cron, at: minute } }));
  const [stored] = await withTransaction(deps.pool, (tx) => deliveries.storeDeliveries(tx, [{
    id, hook: 'schedule', forge: repo.forge, repoId: repo.id, forgeDeliveryId: `schedule:${scheduleKey(repo.id, job.pipeline, job.cron)}:${minute}`,
    eventHeader: 'schedule', sourceAddress: null, receivedAt: now, headers: { 'content-type': 'application/json' },
    body, bodySha256: createHash('sha256').update(body).digest('hex'), status: 'accepted', reason: `on.schedule ${job.cron} of ${job.pipeline}`,
    events: [event], refUpdates: [], actionFromHead: false,
  }]));
  if (stored!.status !== 'accepted') return [];
  return planDelivery(deps, id, { only: job.pipeline });
}

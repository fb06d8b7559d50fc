import { createHash } from 'node:crypto';
import { blankEvent } from '../providers/event.ts';
import { providerFor, type ForgeName } from '../providers/index.ts';
import { deliveries, newDeliveryId, repos, withTransaction } from '../store/index.ts';
import type { SchedulerDeps } from '../scheduler/deps.ts';
import { inTransaction, QUEUES, type PlanJob } from '../scheduler/queues.ts';

export interface Recovered {
  repo: string;
  /** GitHub delivery ids it was asked to send again. */
  redelivered: string[];
  /** Branches whose head moved without a delivery: a push event was raised for each. */
  raised: string[];
  error?: string;
}

// How far back the first pass looks for GitHub deliveries.
const FIRST_LOOK_MS = 60 * 60 * 1000;

/** A push event for a branch head that moved unseen, stored and planned like a delivery; the duplicate rules apply. */
async function raisePush(deps: SchedulerDeps, repo: repos.Repo, branch: string, before: string, sha: string): Promise<boolean> {
  const event = blankEvent(repo.forge as ForgeName, 'push', repo.name, repo.cloneUrl);
  Object.assign(event, { ref: `refs/heads/${branch}`, branch, before, sha, sender: 'forgeline-recovery' });
  const body = Buffer.from(JSON.stringify({ recovered: { branch, before, sha } }));
  return withTransaction(deps.pool, async (tx) => {
    const id = newDeliveryId();
    const [stored] = await deliveries.storeDeliveries(tx, [{
      id, hook: 'recovery', forge: repo.forge, repoId: repo.id, forgeDeliveryId: `recovery:${repo.id}:${branch}:${sha}`, eventHeader: 'push',
      sourceAddress: null, receivedAt: new Date(), headers: { 'content-type': 'application/json' }, body,
      bodySha256: createHash('sha256').update(body).digest('hex'), status: 'accepted', reason: 'head moved without a delivery',
      events: [event], refUpdates: [{ ref: event.ref!, sha }], actionFromHead: false,
    }]);
    if (stored!.status !== 'accepted') return false;
    const job: PlanJob = { deliveryIds: [id] };
    await deps.boss.send(QUEUES.plan, job, { db: inTransaction(tx) });
    return true;
  });
}

/**
 * docs/forges.md, "Missed deliveries", one pass over the repositories with API access: GitHub is
 * asked to redeliver the deliveries that failed or never reached us; on the
 * other forges, each branch head that moved past the last commit planned
 * for it raises a `push` event. The duplicate rules (docs/api.md, "Hooks") keep anything
 * from being built twice when the real delivery arrives late.
 */
export async function recoverMissed(deps: SchedulerDeps, now = new Date()): Promise<Recovered[]> {
  const results: Recovered[] = [];
  for (const repo of await repos.reposWithToken(deps.pool)) {
    const provider = providerFor(repo.forge);
    if (!provider) continue;
    const token = await repos.repoToken(deps.pool, deps.box, repo.id);
    const access = { name: repo.name, apiUrl: repo.apiUrl, token };
    const result: Recovered = { repo: repo.name, redelivered: [], raised: [] };
    try {
      if (provider.deliveries.redeliverMissed && repo.remoteHookId) {
        const since = repo.recoveredAt ? new Date(repo.recoveredAt.getTime() - 5 * 60_000) : new Date(now.getTime() - FIRST_LOOK_MS);
        result.redelivered = await provider.deliveries.redeliverMissed(access, repo.remoteHookId, since, (id) => deliveries.seenDeliveryId(deps.pool, repo.forge, id));
      } else {
        const seen = await deliveries.lastSeenHeads(deps.pool, repo.id);
        for (const head of await provider.deliveries.branchHeads(access)) {
          const last = seen.get(head.branch);
          // Only branches Forgeline has seen before: a first pass must not build every branch of the repository.
          if (last && last !== head.sha && (await raisePush(deps, repo, head.branch, last, head.sha))) result.raised.push(head.branch);
        }
      }
      await repos.markRecovered(deps.pool, repo.id, now);
    } catch (err) {
      result.error = (err as Error).message;
      deps.log.warn({ repo: repo.name, err: result.error }, 'looking for missed deliveries failed');
    }
    if (result.redelivered.length || result.raised.length) deps.log.info(result, 'missed deliveries recovered');
    results.push(result);
  }
  return results;
}

/** On start and every `intervalSeconds`: the recovery pass, in the serving process. */
export function startRecovery(deps: SchedulerDeps, intervalSeconds: number): () => void {
  let running = false;
  const pass = () => {
    if (running) return;
    running = true;
    recoverMissed(deps).catch((err) => deps.log.warn({ err: (err as Error).message }, 'recovery pass failed')).finally(() => { running = false; });
  };
  pass();
  const timer = setInterval(pass, intervalSeconds * 1000);
  return () => clearInterval(timer);
}

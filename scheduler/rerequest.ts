import { providerFor } from '../providers/index.ts';
import { deliveries, runs, type Repo } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { rerunRun, RerunError } from './rerun.ts';

/**
 * GitHub App mode: a `check_run` rerequested reruns that stage (its check
 * run's external id names run and stage); a `check_suite` rerequested reruns
 * every finished run of the commit. Answers the runs rerun.
 */
export async function handleRerequest(deps: SchedulerDeps, repo: Repo, delivery: deliveries.Delivery): Promise<number[]> {
  const body = await deliveries.deliveryBody(deps.pool, delivery.id);
  const parsed = body && providerFor(delivery.forge)?.parse.events(delivery.headers, providerFor(delivery.forge)!.parse.payloadOf(delivery.headers, body));
  if (!parsed || parsed.outcome !== 'rerun') return [];
  const targets: Array<{ runId: number; stage?: string }> = [];
  if (parsed.externalId) {
    const [run, stage] = parsed.externalId.split(':');
    targets.push({ runId: Number(run), stage: stage || undefined });
  } else if (parsed.headSha) {
    for (const r of await runs.listRuns(deps.pool, { repoId: repo.id, sha: parsed.headSha, limit: 50 })) targets.push({ runId: r.id });
  }
  const rerun: number[] = [];
  for (const t of targets) {
    const run = await runs.getRun(deps.pool, t.runId);
    if (!run || run.repoId !== repo.id) continue;
    try {
      await rerunRun(deps, t.runId, `github:${delivery.headers['x-github-event']}`, t.stage);
      rerun.push(t.runId);
    } catch (err) {
      // A run still in progress is left alone: it will report again anyway.
      if (!(err instanceof RerunError)) throw err;
    }
  }
  return rerun;
}

import type { Pipeline } from '../pipelines/index.ts';
import { environments, repos, runs, type Queryable, type RunRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport } from './dispatch.ts';
import { openStage } from './gates.ts';

/**
 * Reopens stages that were left waiting, inside the caller's transaction:
 * back to `queued`, then through their gates again (an approved stage goes on
 * to the lock; a released lock lets the next deployment take it).
 */
export async function reopenStages(deps: SchedulerDeps, tx: Queryable, runId: number, names: string[]): Promise<Array<{ runId: number; name: string }>> {
  await runs.lockRun(tx, runId);
  const run = (await runs.getRun(tx, runId))!;
  const repo = (await repos.getRepo(tx, run.repoId))!;
  const superseded: Array<{ runId: number; name: string }> = [];
  for (const stage of await runs.getStages(tx, runId)) {
    if (!names.includes(stage.name) || stage.status !== 'waiting') continue;
    await runs.setQueued(tx, runId, stage.name, stage.attempt);
    stage.status = 'queued';
    superseded.push(...(await openStage(deps, tx, run, repo, stage)).superseded);
  }
  await sendReport(deps, tx, runId);
  return superseded;
}

/** After a deploying stage ended: its deployment is recorded, and the next waiting one takes the lock. */
export async function releaseEnvironment(deps: SchedulerDeps, tx: Queryable, run: RunRow, stage: { name: string; attempt: number; status: string }): Promise<void> {
  const environment = (run.definition as Pipeline).stages.find((s) => s.name === stage.name)?.environment;
  if (!environment) return;
  await environments.finishDeployment(tx, run.id, stage.name, stage.attempt, stage.status);
  if (!(await environments.releaseLock(tx, run.repoId, environment, run.id, stage.name))) return;
  const next = await runs.nextWaitingForLock(tx, run.repoId, environment);
  if (next) await reopenStages(deps, tx, next.runId, [next.name]);
}

/** After a run of a concurrency group finished: the newest pending run of the group starts. */
export async function releaseGroup(deps: SchedulerDeps, tx: Queryable, run: RunRow): Promise<number | null> {
  if (!run.concurrencyGroup) return null;
  const next = await runs.nextInGroup(tx, run.repoId, run.concurrencyGroup);
  if (next) await reopenStages(deps, tx, next, await runs.stagesWaitingFor(tx, next, 'group'));
  return next;
}

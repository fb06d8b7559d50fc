import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { createCheckout } from '../git/index.ts';
import type { Pipeline } from '../pipelines/index.ts';
import { stepEnvironment } from '../runners/index.ts';
import { repos, runs, withTransaction } from '../store/index.ts';
import { advanceRun } from './advance.ts';
import { runUrl } from './contexts.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport } from './dispatch.ts';
import { logSink } from './log-sink.ts';
import { fetchCommit, mirrorPath } from './mirrors.ts';
import type { StageJob } from './queues.ts';

/**
 * The stage job: claim the stage (queued → running), run its steps in a
 * private checkout of the run's commit, store the log, then record the
 * result and advance the run in one transaction. A job delivered twice finds
 * the stage no longer queued and does nothing.
 */
export async function runStageJob(deps: SchedulerDeps, job: StageJob): Promise<void> {
  const claimed = await withTransaction(deps.pool, async (tx) => {
    await runs.lockRun(tx, job.runId);
    const ok = await runs.transitionStage(tx, { ...job, name: job.stage, from: ['queued'], to: 'running', worker: deps.workerName });
    if (ok) {
      await runs.setRunStatus(tx, job.runId, 'running');
      await sendReport(deps, tx, job.runId);
    }
    return ok;
  });
  if (!claimed) return;

  const log = deps.log.child({ run: job.runId, stage: job.stage, attempt: job.attempt });
  const sink = logSink(deps.pool, job.runId, job.stage, job.attempt);
  const workspace = path.join(deps.dataDir, 'workspaces', `${job.runId}-${job.stage}-${job.attempt}`);
  let outcome: { status: 'success' | 'failure' | 'canceled'; reason: string | null };
  try {
    const run = (await runs.getRun(deps.pool, job.runId))!;
    const repo = (await repos.getRepo(deps.pool, run.repoId))!;
    const pipeline = run.definition as Pipeline;
    const stage = pipeline.stages.find((s) => s.name === job.stage);
    if (!stage) throw new Error(`stage '${job.stage}' is not in the run's pipeline`);
    const mirror = mirrorPath(deps, repo.id);
    await fetchCommit(deps, repo, run.sha, run.event);
    const src = path.join(workspace, 'src');
    const home = path.join(workspace, 'home');
    await createCheckout(mirror, run.sha, src);
    await mkdir(home, { recursive: true });
    const ciEnv = stepEnvironment({
      event: run.event, runId: run.id, runUrl: runUrl(deps.publicUrl, run.id), attempt: run.attempt,
      stage: stage.name, environment: stage.environment,
    }, home);
    log.info('stage started');
    outcome = await deps.runner.run({
      workdir: src, steps: stage.steps, env: { ...pipeline.env, ...stage.env }, ciEnv, timeoutMs: stage.timeoutMs, log: sink.write,
    });
  } catch (err) {
    // Setup failures (fetch, checkout) fail the stage with the reason rather than leaving it running.
    const message = (err as Error).message;
    sink.write(`forgeline: ${message}\n`);
    outcome = { status: 'failure', reason: message.split('\n')[0]!.slice(0, 500) };
  } finally {
    await sink.close();
    await rm(workspace, { recursive: true, force: true }).catch(() => {});
  }
  log.info({ status: outcome.status, reason: outcome.reason }, 'stage finished');

  await withTransaction(deps.pool, async (tx) => {
    await runs.lockRun(tx, job.runId);
    const done = await runs.transitionStage(tx, { ...job, name: job.stage, from: ['running'], to: outcome.status, reason: outcome.reason });
    if (done) await advanceRun(deps, tx, job.runId, job.stage);
  });
}

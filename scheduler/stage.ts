import path from 'node:path';
import type { StageDefinition } from '../pipelines/index.ts';
import { ArtifactError, secretMasker, type StepRecord } from '../runners/index.ts';
import { deliveries, environments, repos, runs, secrets, waitingOutOutages, withTransaction, type Repo, type RunRow } from '../store/index.ts';
import { artifactSources, keepArtifacts } from './artifacts.ts';
import { stageCaches } from './caches.ts';
import { runUrl } from './contexts.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport } from './dispatch.ts';
import { finishStage } from './finish-stage.ts';
import { stageId } from './leftovers.ts';
import { logSink } from './log-sink.ts';
import { requeueUnstarted } from './reaper.ts';
import { freeLock } from './release.ts';
import { environmentOf } from './run-definition.ts';
import { stageMetrics } from './metrics.ts';
import { fetchCommit, mirrorPath } from './mirrors.ts';
import type { Presence } from './presence.ts';
import type { StageJob } from './queues.ts';

type Outcome = { status: 'success' | 'failure' | 'canceled'; reason: string | null; steps?: StepRecord[] };

/** Claims a stage for this worker (queued → running), recording a deployment when it enters an environment; answers its run. */
async function claim(deps: SchedulerDeps, job: StageJob): Promise<RunRow | null> {
  return withTransaction(deps.pool, async (tx) => {
    const claimed = await runs.claimStage(tx, { runId: job.runId, name: job.stage, attempt: job.attempt, worker: deps.workerName });
    if (!claimed) return null;
    const { run } = claimed;
    const environment = environmentOf(run, job.stage);
    if (environment) {
      await environments.recordDeployment(tx, { repoId: run.repoId, environment, runId: run.id, stage: job.stage, attempt: job.attempt, sha: run.sha, approvedBy: claimed.approvedBy });
      await environments.claimLock(tx, run.id, job.stage, job.attempt, deps.workerName);
    }
    await sendReport(deps, tx, job.runId);
    return run;
  });
}

/** A manual run's inputs, kept in its delivery's body. */
async function manualInputs(deps: SchedulerDeps, run: RunRow): Promise<Record<string, string>> {
  const body = run.deliveryId ? await deliveries.deliveryBody(deps.pool, run.deliveryId) : null;
  try {
    return (JSON.parse(body?.toString('utf8') ?? '{}') as { inputs?: Record<string, string> }).inputs ?? {};
  } catch {
    return {};
  }
}

/** The secrets a stage lists: never for a fork's pull request, approved or not (docs/pipelines.md, "Environments"). */
async function stageSecrets(deps: SchedulerDeps, run: RunRow, stage: StageDefinition, log: (line: string) => void): Promise<Record<string, string>> {
  if (!stage.secrets.length) return {};
  if (run.event.pullRequest?.fromFork) {
    log(`forgeline: secrets withheld (${stage.secrets.join(', ')}): a pull request from a fork never receives secrets\n`);
    return {};
  }
  const values = await secrets.secretValues(deps.pool, deps.box, run.repoId, stage.environment, stage.secrets);
  const missing = stage.secrets.filter((name) => !(name in values));
  if (missing.length) log(`forgeline: no secret named ${missing.join(', ')} for this repository${stage.environment ? ` or environment ${stage.environment}` : ''}\n`);
  return values;
}

export function workspaceRoot(deps: Pick<SchedulerDeps, 'dataDir' | 'workspaceRoot'>): string {
  return deps.workspaceRoot ?? path.join(deps.dataDir, 'workspaces');
}

/**
 * The stage job: claim the stage, gather its secrets (masked in the log) and
 * the artifacts of the stages it needs, have the back end run it in a
 * private checkout of the run's commit and keep its own artifacts, then
 * record the result and advance the run in one transaction. A job delivered twice finds the stage
 * no longer queued and does nothing.
 */
export async function runStageJob(deps: SchedulerDeps, job: StageJob, presence?: Presence, opts: { claimed?: { run: RunRow; repo: Repo } } = {}): Promise<void> {
  const attempt = { runId: job.runId, name: job.stage, attempt: job.attempt };
  // Claimed for this worker by the transaction that opened it (gates.ts startHere), or claimed here now.
  const run = opts.claimed?.run ?? (await claim(deps, job));
  if (!run) return;
  // An unapproved fork's stage runs only where its steps get a user of their own. Its queue
  // (stageLabels) keeps it from other workers; one that came anyway goes back to that queue.
  if (run.event.pullRequest?.fromFork && !run.approvedBy && !deps.forkRunAs) {
    deps.log.warn({ run: job.runId, stage: job.stage }, 'an unapproved fork\'s stage reached a worker without --fork-run-as: queued again for one that has it');
    await requeueUnstarted(deps, attempt);
    return;
  }
  const signal = presence?.track(attempt);
  const started = performance.now();
  let log = deps.log.child({ run: job.runId, stage: job.stage, attempt: job.attempt });
  const sink = logSink(deps.pool, job.runId, job.stage, job.attempt, { maxBytes: deps.logMaxBytes });
  let masker = secretMasker([]);
  const write = (chunk: string) => sink.write(masker.write(chunk));
  let outcome: Outcome;
  try {
    // The database may be restarting: its reads are waited out, not reported as the stage's failure.
    const repo = opts.claimed?.repo ?? (await waitingOutOutages(() => repos.getRepo(deps.pool, run.repoId)))!;
    log = log.child({ delivery: run.deliveryId });
    const pipeline = run.definition!;
    const stage = pipeline.stages.find((s) => s.name === job.stage);
    if (!stage) throw new Error(`stage '${job.stage}' is not in the run's pipeline`);
    const values = await waitingOutOutages(() => stageSecrets(deps, run, stage, write));
    masker = secretMasker(Object.values(values));
    await waitingOutOutages(() => fetchCommit(deps, repo, run.sha, run.event));
    const restore = stage.needs.length ? await artifactSources(deps, run.id, stage.needs) : [];
    const inputs = run.event.kind === 'manual' ? await waitingOutOutages(() => manualInputs(deps, run)) : {};
    log.info({ backend: deps.backend.name }, 'stage started');
    const result = await deps.backend.runStage({
      id: stageId(attempt),
      worker: deps.workerName,
      workspaceRoot: workspaceRoot(deps),
      checkout: { mirror: mirrorPath(deps, repo.id), sha: run.sha, independent: Boolean(deps.runAs) },
      prepared: deps.prepared,
      image: stage.image,
      // Runs planned before these fields existed have none in their stored definition.
      pull: stage.pull ?? 'if-not-present',
      services: stage.services ?? [],
      resources: stage.resources,
      caches: await stageCaches(deps, repo, run, stage),
      steps: stage.steps,
      env: { ...pipeline.env, ...stage.env, ...values },
      context: { event: run.event, runId: run.id, runUrl: runUrl(deps.publicUrl, run.id), attempt: job.attempt, stage: stage.name, environment: stage.environment, inputs, matrix: stage.matrix?.values },
      timeoutMs: stage.timeoutMs,
      signal,
      // A fork's steps run as a user of their own where the worker has one: they never see another step's environment or files.
      user: (run.event.pullRequest?.fromFork ? deps.forkRunAs : null) ?? deps.runAs ?? null,
      restore,
      keep: stage.artifacts,
      saveArtifacts: (packed) => keepArtifacts(deps, run.id, stage.name, job.attempt, packed),
      artifactMaxBytes: deps.artifactMaxBytes,
      log: write,
    });
    outcome = { status: result.status, reason: result.reason, steps: result.steps };
  } catch (err) {
    // Setup failures (fetch, checkout, artifacts) fail the stage with the reason rather than leaving it running.
    const message = (err as Error).message;
    write(`forgeline: ${message}\n`);
    outcome = { status: 'failure', reason: (err instanceof ArtifactError ? `artifacts: ${message}` : message).split('\n')[0]!.slice(0, 500) };
  } finally {
    sink.write(masker.end());
    await sink.close();
  }
  // Aborted but not canceled: this worker is shutting down, and the stage is worth another attempt.
  if (outcome.status === 'canceled' && presence?.stopping) outcome = { status: 'failure', reason: 'worker stopped before the stage finished' };
  log.info({ status: outcome.status, reason: outcome.reason }, 'stage finished');
  stageMetrics.finished.inc({ status: outcome.status });
  stageMetrics.duration.observe({ status: outcome.status }, (performance.now() - started) / 1000);
  // The outcome is known: record it even if the database is away for a while,
  // or the stage would stay `running` under a worker that is still alive.
  // A stage canceled meanwhile is already final: finishStage then changes nothing.
  // Tracked until then: still `running` in the database, it is this worker's, not a
  // stage it never started (requeueUntrackedStages), and shutdown waits for it.
  try {
    for (let wait = 500; ; wait = Math.min(wait * 2, 10_000)) {
      try {
        await withTransaction(deps.pool, async (tx) => {
          const finished = await finishStage(deps, tx, attempt, ['running'], outcome);
          // The attempt's row exists now, whoever ended it (migration 019's trigger).
          if (outcome.steps) await runs.recordSteps(tx, attempt, outcome.steps);
          if (finished) return;
          // Canceled while it ran: its step is dead now, and the environment's lock it kept goes to the next deployment.
          const environment = environmentOf(run, job.stage);
          if (environment) await freeLock(deps, tx, { repoId: run.repoId, environment, runId: run.id, stage: job.stage, attempt: job.attempt });
        });
        return;
      } catch (err) {
        log.warn({ err: (err as Error).message, retryInMs: wait }, 'recording the stage result failed; trying again');
        if (presence?.stopping && wait >= 10_000) throw err;
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  } finally {
    presence?.untrack(attempt);
  }
}

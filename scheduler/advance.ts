import { decideStage, sharedPlanningPool, withMatrixResults, type Pipeline, type StageDecision } from '../pipelines/index.ts';
import { providerFor } from '../providers/index.ts';
import { deliveries, repos, runs, type Queryable, type Repo, type RunRow, type StageRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport } from './dispatch.ts';
import { cancelStagesIn } from './cancel.ts';
import { openStage } from './gates.ts';
import { releaseGroup } from './release.ts';
import { deriveRunStatus, isFinal } from './run-status.ts';

async function payloadOf(tx: Queryable, run: RunRow): Promise<unknown> {
  if (!run.deliveryId) return null;
  const delivery = await deliveries.getDelivery(tx, run.deliveryId);
  const body = await deliveries.deliveryBody(tx, run.deliveryId);
  try {
    return delivery && body ? providerFor(delivery.forge)?.parse.payloadOf(delivery.headers, body) ?? null : null;
  } catch {
    return null;
  }
}

/** Decides a stage whose needs have all finished (docs/pipelines.md, pipelines/stage-decision.ts). */
function decide(deps: SchedulerDeps, stage: StageRow, pipeline: Pipeline, byName: Map<string, StageRow>, run: RunRow, payload: () => Promise<unknown>): Promise<StageDecision> {
  const def = pipeline.stages.find((s) => s.name === stage.name);
  const finished = withMatrixResults(pipeline.stages, new Map([...byName.values()].filter((s) => isFinal(s.status)).map((s) => [s.name, s.status])));
  // The condition is the pipeline file's: decided within planning's limits, off the event loop.
  const pool = deps.planning ?? sharedPlanningPool();
  return decideStage({ if: def?.if ?? null, ifReadsStages: def?.ifReadsStages ?? false, needs: stage.needs, matrix: def?.matrix ?? null }, finished, run.event, payload, (source, vars) => pool.condition(source, vars));
}

/**
 * A matrix instance ended: with `fail-fast` its failure cancels the instances
 * not yet final; else a slot under `max-parallel` may have come free for the
 * next waiting one (gates.ts). Answers the stages that ended here.
 */
async function matrixSiblings(
  deps: SchedulerDeps, tx: Queryable, run: RunRow, repo: Repo, pipeline: Pipeline, stages: StageRow[], done: string, later: Array<{ runId: number; name: string }>,
): Promise<string[]> {
  const matrix = pipeline.stages.find((s) => s.name === done)?.matrix;
  if (!matrix) return [];
  const siblings = new Set(pipeline.stages.filter((s) => s.matrix?.stage === matrix.stage && s.name !== done).map((s) => s.name));
  const doneRow = stages.find((s) => s.name === done)!;
  if (matrix.failFast && doneRow.status === 'failure') {
    const open = stages.filter((s) => siblings.has(s.name) && !isFinal(s.status)).map((s) => s.name);
    if (!open.length) return [];
    const canceled = await cancelStagesIn(deps, tx, run.id, `canceled: ${done} failed (fail-fast)`, open);
    for (const s of stages) if (canceled.includes(s.name)) s.status = 'canceled';
    return canceled;
  }
  const ended: string[] = [];
  for (const s of stages) {
    if (!siblings.has(s.name) || s.status !== 'waiting' || s.waitingFor !== 'matrix') continue;
    const opened = await openStage(deps, tx, run, repo, s);
    later.push(...opened.superseded);
    if (opened.state === 'ended') ended.push(s.name);
  }
  return ended;
}

/**
 * Decides the given stages of a run (all `queued`, their needs all final)
 * and opens those that run; then follows every stage that ended on the way.
 * Inside the caller's transaction, with the run locked.
 */
export async function startStages(deps: SchedulerDeps, tx: Queryable, runId: number, ready: string[], finished: string[] = []): Promise<void> {
  const run = (await runs.getRun(tx, runId))!;
  const repo = (await repos.getRepo(tx, run.repoId))!;
  const pipeline = run.definition!;
  const stages = await runs.getStages(tx, runId);
  const byName = new Map(stages.map((s) => [s.name, s]));
  let payload: Promise<unknown> | undefined;
  const loadPayload = () => (payload ??= payloadOf(tx, run));
  const decided = new Set<string>();
  const later: Array<{ runId: number; name: string }> = [];

  const consider = async (stage: StageRow): Promise<string | null> => {
    decided.add(stage.name);
    const decision = await decide(deps, stage, pipeline, byName, run, loadPayload);
    if (!decision.run) {
      await runs.transitionStage(tx, { runId, name: stage.name, attempt: stage.attempt, from: ['queued'], to: decision.status, reason: decision.reason });
      stage.status = decision.status;
      stage.reason = decision.reason;
      return stage.name;
    }
    const opened = await openStage(deps, tx, run, repo, stage);
    later.push(...opened.superseded);
    return opened.state === 'ended' ? stage.name : null;
  };

  const work = [...finished];
  for (const name of ready) {
    const ended = await consider(byName.get(name)!);
    if (ended) work.push(ended);
  }
  // A stage that ended (skipped, failed a gate) may decide the stages that need it.
  while (work.length) {
    const done = work.shift()!;
    work.push(...await matrixSiblings(deps, tx, run, repo, pipeline, stages, done, later));
    for (const stage of stages) {
      if (stage.status !== 'queued' || decided.has(stage.name) || !stage.needs.includes(done)) continue;
      if (!stage.needs.every((n) => isFinal(byName.get(n)!.status))) continue;
      const ended = await consider(stage);
      if (ended) work.push(ended);
    }
  }
  const status = deriveRunStatus(stages);
  await runs.setRunStatus(tx, runId, status);
  await sendReport(deps, tx, runId);
  if (isFinal(status)) await releaseGroup(deps, tx, run);
  for (const other of later) {
    await runs.lockRun(tx, other.runId);
    await advanceRun(deps, tx, other.runId, other.name);
  }
}

/**
 * After a stage reached a final state (inside the transaction that put it
 * there, with the run locked): decide each stage that now has all its needs
 * finished, derive the run's state, and ask for a status report. Only the
 * transaction that finished a stage's last need sees them all final, so
 * each stage is decided once.
 */
export async function advanceRun(deps: SchedulerDeps, tx: Queryable, runId: number, finished: string): Promise<void> {
  await startStages(deps, tx, runId, [], [finished]);
}

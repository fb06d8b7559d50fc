import { matchesFilter } from '../pipelines/index.ts';
import { environments, onTransactionEnd, runs, workers, type Queryable, type Repo, type RunRow, type StageRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendStage } from './dispatch.ts';
import { environmentOf } from './run-definition.ts';
import { isFinal } from './run-status.ts';
import { FORK_LABEL, stageLabels } from './stage-queues.ts';

export type WaitingFor = 'fork' | 'approval' | 'lock' | 'labels' | 'group' | 'matrix';

type Gate =
  | { open: true }
  | { open: false; waitingFor: Exclude<WaitingFor, 'labels' | 'group'>; reason: string }
  | { end: 'skipped' | 'failure'; reason: string };

const AUTOMATIC = new Set(['push', 'tag', 'pull_request', 'schedule', 'webhook']);

/** The environment rules of docs/pipelines.md, "Environments", in order: fork, protection, approval (before the lock), lock. */
/**
 * An environment's branch and tag rules, each for its own kind of ref: a tag
 * named `main` is not the branch `main`. With neither rule any ref may
 * deploy; with one, a ref of the other kind may not.
 */
function refRefusal(event: RunRow['event'], env: environments.Environment): string | null {
  if (!env.branches && !env.tags) return null;
  const [kind, ref, rule] = event.tag !== null ? ['tag', event.tag, env.tags] as const : ['branch', event.branch, env.branches] as const;
  if (!rule) return `${kind} '${ref}' may not deploy to ${env.name}: it allows no ${kind === 'tag' ? 'tags (env set --tags)' : 'branches (env set --branches)'}`;
  return matchesFilter(ref ?? '', rule) ? null : `${kind} '${ref}' may not deploy to ${env.name} (allowed: ${rule.join(', ')})`;
}

async function gate(deps: SchedulerDeps, tx: Queryable, run: RunRow, repo: Repo, stage: StageRow): Promise<Gate> {
  const pipeline = run.definition!;
  const def = pipeline.stages.find((s) => s.name === stage.name)!;
  const event = run.event;
  const fromFork = event.pullRequest?.fromFork === true;
  if (fromFork && !run.approvedBy) {
    if (repo.forkPrs !== 'run') return { open: false, waitingFor: 'fork', reason: 'waiting for approval: a pull request from a fork' };
    // `run` needs a worker that gives a fork's steps a user of their own (--fork-run-as): else they
    // would share one with steps that hold secrets, and could read those steps' environment.
    if ((await workers.liveWorkersWith(tx, [FORK_LABEL], deps.heartbeatSeconds ?? 30)) === 0) {
      return { open: false, waitingFor: 'fork', reason: 'waiting for approval: a pull request from a fork, and no worker runs forks as a user of their own (--fork-run-as)' };
    }
  }
  if (def.matrix?.maxParallel) {
    // The first max-parallel instances not yet final run; each later one waits for a slot
    // (advance.ts opens it again when an instance ends). Stateless: the same rows give the same answer.
    const open = (await runs.getStages(tx, run.id)).filter((s) => pipeline.stages.find((d) => d.name === s.name)?.matrix?.stage === def.matrix!.stage && !isFinal(s.status));
    const ahead = open.filter((s) => s.position < stage.position).length;
    if (ahead >= def.matrix.maxParallel) {
      return { open: false, waitingFor: 'matrix', reason: `waiting for a slot: ${def.matrix.stage} runs at most ${def.matrix.maxParallel} instance(s) at once (max-parallel)` };
    }
  }
  if (def.environment) {
    const name = def.environment;
    if (fromFork) return { end: 'skipped', reason: `a fork's pull request never enters an environment (${name})` };
    const env = await environments.getEnvironment(tx, repo.id, name);
    if (env) {
      if (event.kind === 'pull_request' && event.action !== 'merged') {
        return { end: 'failure', reason: `pull request events never deploy to the protected environment ${name}` };
      }
      const refused = refRefusal(event, env);
      if (refused) return { end: 'failure', reason: refused };
    }
    if ((env?.approval || def.approval) && !stage.approvedBy) {
      return { open: false, waitingFor: 'approval', reason: `waiting for approval to deploy to ${name}` };
    }
    if (!(await environments.acquireLock(tx, repo.id, name, run.id, stage.name, stage.attempt))) {
      const holder = await environments.lockHolder(tx, repo.id, name);
      // A rerun of a deployment canceled while it ran waits for its own earlier attempt's step to die.
      const reason = holder?.runId === run.id && holder.stage === stage.name
        ? `waiting for ${name}: attempt ${holder.attempt} of this stage is still stopping`
        : `waiting for ${name}: run ${holder?.runId} is deploying`;
      return { open: false, waitingFor: 'lock', reason };
    }
  }
  return { open: true };
}

/**
 * Automatic events deploy in arrival order and only the newest waiting
 * deployment is kept: when one starts waiting, older waiting ones of
 * automatic events for the same environment are canceled.
 */
async function supersede(tx: Queryable, run: RunRow, repo: Repo, environment: string): Promise<Array<{ runId: number; name: string }>> {
  if (!AUTOMATIC.has(run.event.kind) || run.attempt > 1) return [];
  const older = await runs.olderWaitingDeployments(tx, repo.id, run.id, environment, [...AUTOMATIC]);
  const superseded: Array<{ runId: number; name: string }> = [];
  for (const stage of older) {
    await runs.lockRun(tx, stage.runId);
    const canceled = await runs.cancelStages(tx, stage.runId, `superseded by run ${run.id}`, [stage.name]);
    if (canceled.length) superseded.push(stage);
  }
  return superseded;
}

export interface Opened {
  state: 'sent' | 'started' | 'waiting' | 'ended';
  /** Older waiting deployments this one canceled: the caller advances their runs. */
  superseded: Array<{ runId: number; name: string }>;
}

/**
 * A stage whose needs are met goes through its gates: sent to a worker,
 * left waiting (for approval, the environment's lock, a fork's approval),
 * or ended (an environment it may not enter). The only way stages start.
 */
export async function openStage(deps: SchedulerDeps, tx: Queryable, run: RunRow, repo: Repo, stage: StageRow): Promise<Opened> {
  const g = await gate(deps, tx, run, repo, stage);
  if ('end' in g) {
    await runs.transitionStage(tx, { runId: run.id, name: stage.name, attempt: stage.attempt, from: ['queued', 'waiting'], to: g.end, reason: g.reason });
    stage.status = g.end;
    stage.reason = g.reason;
    return { state: 'ended', superseded: [] };
  }
  if (!g.open) {
    await runs.setWaiting(tx, run.id, stage.name, stage.attempt, g.waitingFor, g.reason);
    stage.status = 'waiting';
    stage.reason = g.reason;
    const env = environmentOf(run, stage.name);
    return { state: 'waiting', superseded: env && g.waitingFor !== 'fork' ? await supersede(tx, run, repo, env) : [] };
  }
  if (await startHere(deps, tx, run, repo, stage, stageLabels(run, stage.name))) return { state: 'started', superseded: [] };
  await runs.setQueued(tx, run.id, stage.name, stage.attempt);
  // Left waiting for labels there while no live worker has them.
  await sendStage(deps, tx, run, { runId: run.id, stage: stage.name, attempt: stage.attempt });
  return { state: 'sent', superseded: [] };
}

/**
 * A stage this process has a free slot for is claimed by it in the
 * transaction that opens it, and starts as that commits: no trip through the
 * queue and no claim of its own on the path to the first step. Not a stage
 * with an environment: its deployment is recorded by the claim of a job.
 * The slot is given back if the transaction does not commit. A worker that
 * dies before starting it is reaped like any other; one that lives but never
 * started it queues it again (reaper.ts requeueUntrackedStages).
 */
async function startHere(deps: SchedulerDeps, tx: Queryable, run: RunRow, repo: Repo, stage: StageRow, labels: string[]): Promise<boolean> {
  const def = run.definition!.stages.find((s) => s.name === stage.name);
  if (def?.environment) return false;
  const slot = deps.slotHere?.(labels);
  if (!slot) return false;
  const job = { runId: run.id, stage: stage.name, attempt: stage.attempt };
  let claimed = false;
  // Only inside withTransaction: on the pool, the claim would be visible before anything could start it.
  if (!onTransactionEnd(tx, () => (claimed ? slot.start(job, { run, repo }) : slot.release()), () => slot.release())) {
    slot.release();
    return false;
  }
  if (stage.status === 'waiting') await runs.setQueued(tx, run.id, stage.name, stage.attempt);
  claimed = await runs.transitionStage(tx, { ...job, name: stage.name, from: ['queued'], to: 'running', worker: deps.workerName });
  if (!claimed) return false;
  stage.status = 'running';
  stage.reason = null;
  return true;
}

import { diffOf, resolveLocalCommit } from '../git/index.ts';
import { explainStopped, PIPELINE_DIR, PlanningLimitError, sharedPlanningPool, type EventExplain, type LoadedPipelines, type Pipeline, type PipelineExplain, type RepoView } from '../pipelines/index.ts';
import { providerFor, type ForgeEvent } from '../providers/index.ts';
import { deliveries, repos, runs, withTransaction, type Repo } from '../store/index.ts';
import { startStages } from './advance.ts';
import { applyConcurrency, cancelEndedPullRequests, endsPullRequests } from './concurrency.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport } from './dispatch.ts';
import { fetchCommit, mirrorPath } from './mirrors.ts';
import { repoView } from './repo-view.ts';
import { handleRerequest } from './rerequest.ts';
import { defaultBranch, syncSchedules } from './schedules.ts';

export type { EventExplain, PipelineExplain };

/**
 * Fetches the event's commits and replaces abbreviated ids (Bitbucket Cloud
 * pull requests carry 12 characters) with full ones, before anything uses them.
 */
async function resolveShas(deps: SchedulerDeps, repo: Repo, event: ForgeEvent): Promise<void> {
  const pr = event.pullRequest;
  if (pr) {
    pr.headSha = await fetchCommit(deps, repo, pr.headSha, event);
    if (pr.mergeSha) pr.mergeSha = await fetchCommit(deps, repo, pr.mergeSha, event);
    event.sha = pr.mergeSha ?? pr.headSha;
  } else {
    event.sha = await fetchCommit(deps, repo, event.sha!, event);
    // A new annotated tag may name its tag object (Bitbucket Data Center's toHash does):
    // the run, its checkout and its statuses take the commit the tag points at.
    if (event.kind === 'tag') event.sha = (await resolveLocalCommit(mirrorPath(deps, repo.id), event.sha)) ?? event.sha;
  }
}

/** A push to the default branch may change the pipelines' `on.schedule`: keep pg-boss's schedules in step. */
async function keepSchedules(deps: SchedulerDeps, repo: Repo, event: ForgeEvent, pipelines: Pipeline[]): Promise<void> {
  if (event.kind !== 'push') return;
  const branch = repo.defaultBranch ?? (await defaultBranch(deps, repo))?.branch;
  if (branch && event.branch === branch) await syncSchedules(deps, repo, pipelines);
}

/** What a fork's pull request changes in .forgeline/ against its base: the approver reads it first. */
async function forkPipelineDiff(view: RepoView, gitDir: string, event: ForgeEvent): Promise<string> {
  try {
    const baseHead = await view.branchHead(event.pullRequest!.baseRef);
    const base = baseHead && (await view.mergeBase(await view.ensureCommit(baseHead), event.sha!));
    if (!base) return `(the base branch ${event.pullRequest!.baseRef} shares no history with the head: compare by hand)`;
    return (await diffOf(gitDir, base, event.sha!, [PIPELINE_DIR])) || '(no change to .forgeline/)';
  } catch (err) {
    return `(the .forgeline/ diff could not be computed: ${(err as Error).message.split('\n')[0]})`;
  }
}

/** The event planned off the event loop; stopped at a limit, every pipeline of the commit fails naming it. */
async function planInThread(deps: SchedulerDeps, view: RepoView, event: ForgeEvent, payload: unknown): Promise<{ loaded: LoadedPipelines; entry: EventExplain }> {
  try {
    return await (deps.planning ?? sharedPlanningPool()).explain(view, event, payload);
  } catch (err) {
    if (!(err instanceof PlanningLimitError)) throw err;
    deps.log.warn({ sha: event.sha, reason: err.message }, 'planning stopped at a limit');
    return { loaded: { pipelines: [], broken: [] }, entry: await explainStopped(view, event, err.message) };
  }
}

/** The payload of a stored delivery, for CEL conditions. */
async function payloadOf(deps: SchedulerDeps, delivery: deliveries.Delivery): Promise<unknown> {
  const body = await deliveries.deliveryBody(deps.pool, delivery.id);
  try {
    return body ? providerFor(delivery.forge)?.parse.payloadOf(delivery.headers, body) ?? null : null;
  } catch {
    return null;
  }
}

/** The run a pipeline's verdict becomes, or null when it posts nothing. */
function runFor(p: PipelineExplain, pipeline: Pipeline | undefined, event: ForgeEvent): Omit<runs.NewRun, 'repoId' | 'deliveryId' | 'eventIndex' | 'event' | 'sha'> | null {
  const base = { pipeline: p.name, file: p.file, definition: pipeline ?? null };
  // A broken file or a failing `if` fails the context it would have had: never silence.
  if (p.problems) return { ...base, status: 'failure', reason: p.reason, problems: p.problems, stages: [] };
  if (p.error) return { ...base, status: 'failure', reason: p.error, stages: [] };
  if (p.triggered && pipeline) {
    return {
      ...base,
      status: 'queued',
      stages: pipeline.stages.map((s) => {
        const verdict = p.stages.find((x) => x.name === s.name);
        return verdict && !verdict.runs
          ? { name: s.name, needs: s.needs, status: 'skipped' as const, reason: verdict.reason }
          : { name: s.name, needs: s.needs, status: 'queued' as const, reason: null };
      }),
    };
  }
  // A required check must not wait forever on a pull request its filters reject.
  if (event.kind === 'pull_request' && p.trigger === 'on.pull_request') {
    return { ...base, status: 'success', reason: `not triggered: ${p.reason}`, stages: [] };
  }
  return null;
}

/**
 * Starts the checkouts of a new run's first stages when they will start at
 * once on this process: no environment (a lock or an approval may hold it),
 * not a fork's pull request (it waits for approval), labels this worker has.
 */
function prepareCheckouts(deps: SchedulerDeps, repo: Repo, event: ForgeEvent, pipeline: Pipeline | undefined, run: NonNullable<ReturnType<typeof runFor>>): void {
  const prepared = deps.prepared;
  if (!prepared || !pipeline || run.status !== 'queued' || event.pullRequest?.fromFork) return;
  for (const stage of run.stages) {
    const def = pipeline.stages.find((d) => d.name === stage.name);
    if (stage.status !== 'queued' || stage.needs.length || !def || def.environment || def.approval) continue;
    if (!prepared.serves(def.runsOn ?? pipeline.runsOn ?? [])) continue;
    prepared.prepare({ mirror: mirrorPath(deps, repo.id), sha: event.sha!, independent: Boolean(deps.runAs) });
  }
}

/**
 * The plan job: reads the pipeline files at each event's commit, matches
 * them, and creates a run per triggered pipeline with its first stages
 * queued, all in one transaction. Planning the same delivery again creates
 * nothing new. The explain trace is kept on the delivery.
 */
export async function planDelivery(deps: SchedulerDeps, deliveryId: string, opts: { replay?: boolean; only?: string; unlessPlanned?: boolean } = {}): Promise<number[]> {
  const delivery = await deliveries.getDelivery(deps.pool, deliveryId);
  if (!delivery || !delivery.repoId) return [];
  // A planned delivery has an explain entry per event.
  if (opts.unlessPlanned && delivery.explain.length > 0) return [];
  const repo = await repos.getRepo(deps.pool, delivery.repoId);
  if (!repo) return [];
  const planned: number[] = [];
  let fetchError: Error | undefined;
  const log = deps.log.child({ delivery: deliveryId, repo: repo.name });
  const events = delivery.events;
  if (events.length === 0 && delivery.reason === 'rerequested') return handleRerequest(deps, repo, delivery);
  const payload = await payloadOf(deps, delivery);
  const explain: EventExplain[] = [];

  for (const [index, event] of events.entries()) {
    if (event.kind === 'webhook' && !event.sha) {
      // A generic source's event runs on the default branch's head, as it is when planned.
      const head = await defaultBranch(deps, repo);
      if (!head) {
        explain.push({ event, reason: `the default branch of ${repo.name} could not be read from ${repo.cloneUrl}`, pipelines: [] });
        fetchError ??= new Error(`the default branch of ${repo.name} could not be read`);
        continue;
      }
      Object.assign(event, { ref: `refs/heads/${head.branch}`, branch: head.branch, sha: head.sha });
    }
    if (event.deleted || !event.sha) {
      if (endsPullRequests(event)) await withTransaction(deps.pool, (tx) => cancelEndedPullRequests(deps, tx, repo.id, event));
      explain.push({ event, reason: 'deletions start no run', pipelines: [] });
      continue;
    }
    if ((event.kind === 'push' || event.kind === 'tag') && event.ref && !opts.replay) {
      const owner = await deliveries.claimedRefUpdate(deps.pool, repo.id, event.ref, event.sha);
      if (owner && owner !== deliveryId) {
        explain.push({ event, reason: `${event.ref} at ${event.sha} was already planned by delivery ${owner}`, pipelines: [] });
        continue;
      }
    }
    try {
      await resolveShas(deps, repo, event);
    } catch (err) {
      // Kept on the delivery so "why did nothing run?" has an answer; the job is retried below.
      explain.push({ event, reason: `could not fetch the commit: ${(err as Error).message}`, pipelines: [] });
      fetchError ??= err as Error;
      continue;
    }
    // Most events end nothing: no transaction for them on the path to the first step.
    if (endsPullRequests(event)) await withTransaction(deps.pool, (tx) => cancelEndedPullRequests(deps, tx, repo.id, event));
    if (event.pullRequest?.fromFork && repo.forkPrs === 'ignore') {
      explain.push({ event, reason: 'pull requests from forks are ignored (--fork-prs ignore)', pipelines: [] });
      continue;
    }
    const view = await repoView(deps, repo, event);
    const { loaded, entry } = await planInThread(deps, view, event, payload);
    const definitions = new Map(loaded.pipelines.map((p) => [p.name, p]));
    if (opts.only) entry.pipelines = entry.pipelines.filter((p) => p.name === opts.only);
    await keepSchedules(deps, repo, event, loaded.pipelines);
    for (const line of entry.pipelines) {
      const run = runFor(line, definitions.get(line.name), event);
      if (!run) continue;
      const pipeline = definitions.get(line.name);
      prepareCheckouts(deps, repo, event, pipeline, run);
      const group = pipeline?.concurrency ? { name: pipeline.concurrency.group, cancelInProgress: pipeline.concurrency.cancelInProgress } : null;
      // Written with the run, so that no fork's run waits for approval without the diff its approver reads.
      const diff = event.pullRequest?.fromFork && run.status === 'queued' ? await forkPipelineDiff(view, mirrorPath(deps, repo.id), event) : null;
      const runId = await withTransaction(deps.pool, async (tx) => {
        const id = await runs.insertRun(tx, { ...run, repoId: repo.id, deliveryId, eventIndex: index, event, sha: event.sha!, concurrencyGroup: group?.name ?? null });
        if (id === null) return null;
        if (diff !== null) await runs.setPipelineDiff(tx, id, diff);
        if (run.status !== 'queued') {
          await sendReport(deps, tx, id);
          return id;
        }
        const held = await applyConcurrency(deps, tx, { id, repoId: repo.id, pipeline: line.name, event, group });
        const roots = run.stages.filter((s) => s.status === 'queued' && s.needs.length === 0).map((s) => s.name);
        // Stages skipped at planning decide their dependents as if each had just finished.
        const skipped = run.stages.filter((s) => s.status === 'skipped').map((s) => s.name);
        if (held) {
          for (const name of roots) await runs.setWaiting(tx, id, name, 1, 'group', `waiting for the concurrency group ${group!.name}`);
          await startStages(deps, tx, id, [], skipped);
        } else {
          await startStages(deps, tx, id, roots, skipped);
        }
        return id;
      });
      if (runId !== null) {
        line.run = runId;
        planned.push(runId);
        log.info({ run: runId, pipeline: line.name, sha: event.sha, status: run.status }, 'run planned');
      } else {
        // Planned before (the job came twice): the trace written again still names its run.
        line.run = (await runs.plannedRunId(deps.pool, deliveryId, index, line.name)) ?? undefined;
      }
    }
    explain.push(entry);
  }
  await deliveries.setDeliveryExplain(deps.pool, deliveryId, events, explain);
  if (fetchError) throw fetchError;
  return planned;
}

import { readFilesAt } from '../git/index.ts';
import { formatProblem, matchPipeline, parsePipelineFile, PIPELINE_DIR, PIPELINE_FILE, type Pipeline, type Problem } from '../pipelines/index.ts';
import type { ForgeEvent } from '../providers/types.ts';
import { deliveries, repos, runs, withTransaction, type Repo } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport, sendStage } from './dispatch.ts';
import { fetchCommit, mirrorPath } from './mirrors.ts';

/** One line of the explain trace: what a pipeline made of an event, and why. */
export interface PipelineExplain {
  name: string;
  file: string;
  triggered: boolean;
  reason: string;
  problems?: string[];
  run?: number;
}

export interface EventExplain {
  event: ForgeEvent;
  reason?: string;
  pipelines: PipelineExplain[];
}

interface LoadedPipelines {
  pipelines: Pipeline[];
  broken: Array<{ file: string; problems: Problem[] }>;
}

async function loadPipelines(mirror: string, sha: string): Promise<LoadedPipelines> {
  const files = await readFilesAt(mirror, sha, PIPELINE_DIR, PIPELINE_FILE);
  const loaded: LoadedPipelines = { pipelines: [], broken: [] };
  for (const f of files) {
    const parsed = parsePipelineFile(f.path, f.content);
    if (parsed.pipeline) loaded.pipelines.push(parsed.pipeline);
    else loaded.broken.push({ file: f.path, problems: parsed.problems });
  }
  return loaded;
}

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
  }
}

/** Stages whose `needs` are all met before anything ran: the ones to dispatch at once. */
function rootStages(p: Pipeline): string[] {
  return p.stages.filter((s) => s.needs.length === 0).map((s) => s.name);
}

/**
 * The plan job: reads the pipeline files at each event's commit, matches
 * them, and creates a run per triggered pipeline with its first stages
 * queued, all in one transaction. Planning the same delivery again creates
 * nothing new.
 */
export async function planDelivery(deps: SchedulerDeps, deliveryId: string, opts: { replay?: boolean } = {}): Promise<number[]> {
  const delivery = await deliveries.getDelivery(deps.pool, deliveryId);
  if (!delivery || !delivery.repoId) return [];
  const repo = await repos.getRepo(deps.pool, delivery.repoId);
  if (!repo) return [];
  const planned: number[] = [];
  let fetchError: Error | undefined;
  const log = deps.log.child({ delivery: deliveryId, repo: repo.name });
  const events = delivery.events as ForgeEvent[];
  const explain: EventExplain[] = [];

  for (const [index, event] of events.entries()) {
    if (event.deleted || !event.sha) {
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
    const mirror = mirrorPath(deps, repo.id);
    const { pipelines, broken } = await loadPipelines(mirror, event.sha);
    const entry: EventExplain = { event, pipelines: [] };
    if (pipelines.length === 0 && broken.length === 0) entry.reason = `no ${PIPELINE_DIR}/*.yml at ${event.sha}`;
    for (const b of broken) {
      entry.pipelines.push({ name: b.file, file: b.file, triggered: false, reason: 'invalid pipeline file', problems: b.problems.map(formatProblem) });
    }
    for (const pipeline of pipelines) {
      const match = matchPipeline(pipeline, event);
      const line: PipelineExplain = { name: pipeline.name, file: pipeline.file, triggered: match.triggered, reason: match.reason };
      entry.pipelines.push(line);
      if (!match.triggered) continue;
      const runId = await withTransaction(deps.pool, async (tx) => {
        const id = await runs.insertRun(tx, {
          repoId: repo.id, deliveryId, eventIndex: index, pipeline: pipeline.name, file: pipeline.file,
          event, sha: event.sha!, definition: pipeline,
          stages: pipeline.stages.map((s) => ({ name: s.name, needs: s.needs })),
        });
        if (id === null) return null;
        for (const stage of rootStages(pipeline)) await sendStage(deps, tx, { runId: id, stage, attempt: 1 });
        await sendReport(deps, tx, id);
        return id;
      });
      if (runId !== null) {
        line.run = runId;
        planned.push(runId);
        log.info({ run: runId, pipeline: pipeline.name, sha: event.sha }, 'run planned');
      }
    }
    explain.push(entry);
  }
  await deliveries.setDeliveryExplain(deps.pool, deliveryId, events, explain);
  if (fetchError) throw fetchError;
  return planned;
}

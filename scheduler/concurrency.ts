import type { ForgeEvent } from '../providers/types.ts';
import { runs, type Queryable } from '../store/index.ts';
import { cancelRunIn } from './cancel.ts';
import type { SchedulerDeps } from './deps.ts';

/**
 * docs/pipelines.md, "Environments" concurrency, applied when a run is created (in its
 * transaction). Without a group, a pull request's new commits cancel its
 * older runs of the same pipeline and pushes run side by side. With a group:
 * `cancel-in-progress` cancels the group's running and pending runs;
 * otherwise one runs at a time and only the newest pending run is kept.
 * Answers whether the new run must wait for the group.
 */
export async function applyConcurrency(
  deps: SchedulerDeps, tx: Queryable,
  run: { id: number; repoId: string; pipeline: string; event: ForgeEvent; group: { name: string; cancelInProgress: boolean } | null },
): Promise<boolean> {
  if (run.group) {
    const others = await runs.activeInGroup(tx, run.repoId, run.group.name, run.id);
    let busy = false;
    for (const other of others) {
      if (run.group.cancelInProgress) await cancelRunIn(deps, tx, other.id, `canceled by run ${run.id} (concurrency group ${run.group.name})`);
      else if (!other.started) await cancelRunIn(deps, tx, other.id, `superseded by run ${run.id}`);
      else busy = true;
    }
    return busy;
  }
  const pr = run.event.pullRequest;
  if (run.event.kind === 'pull_request' && pr && ['opened', 'synchronize', 'reopened'].includes(run.event.action ?? '')) {
    for (const older of await runs.activeForPullRequest(tx, run.repoId, pr.number, run.pipeline, run.id)) {
      await cancelRunIn(deps, tx, older, `superseded by run ${run.id} (new commits)`);
    }
  }
  return false;
}

/** Whether the event ends a pull request's runs: it was closed or merged, or its branch deleted. */
export function endsPullRequests(event: ForgeEvent): boolean {
  return (Boolean(event.pullRequest) && (event.action === 'closed' || event.action === 'merged'))
    || (event.kind === 'push' && event.deleted && Boolean(event.branch));
}

/**
 * Closing or merging a pull request, or deleting its head branch, cancels
 * that pull request's queued and waiting stages; running ones finish.
 */
export async function cancelEndedPullRequests(deps: SchedulerDeps, tx: Queryable, repoId: string, event: ForgeEvent): Promise<void> {
  const pr = event.pullRequest;
  let ids: number[] = [];
  let why = '';
  if (pr && (event.action === 'closed' || event.action === 'merged')) {
    ids = await runs.activeForPullRequest(tx, repoId, pr.number, null, -1);
    why = `pull request #${pr.number} ${event.action}`;
  } else if (event.kind === 'push' && event.deleted && event.branch) {
    ids = await runs.activeForHeadBranch(tx, repoId, event.branch);
    why = `branch ${event.branch} deleted`;
  }
  for (const id of ids) await cancelRunIn(deps, tx, id, why, ['queued', 'waiting']);
}

import { applyRef, blankEvent, isZeroSha } from '../event.ts';
import { at, bool, int, list, num, str } from '../read-json.ts';
import type { ParseResult, PullRequestAction } from '../types.ts';

// isZeroSha also answers true for a missing id; here only a sent all-zero id means "no ref".
function zero(sha: string | null): boolean {
  return sha !== null && isZeroSha(sha);
}

/** A Push Hook or Tag Push Hook: GitLab sends no created/deleted/forced flags, only the all-zero side. */
function parsePush(payload: unknown): ParseResult {
  const repoName = str(payload, 'project.path_with_namespace');
  const ref = str(payload, 'ref');
  if (!repoName || !ref) return { outcome: 'ignored', reason: 'push payload without project.path_with_namespace or ref' };
  const event = blankEvent('gitlab', 'push', repoName, str(payload, 'project.git_http_url'));
  applyRef(event, ref);
  event.before = str(payload, 'before');
  const after = str(payload, 'after');
  event.created = zero(event.before);
  event.deleted = zero(after);
  // For an annotated tag `after` names the tag object; checkout_sha is the commit it points at.
  event.sha = event.deleted ? null : (str(payload, 'checkout_sha') ?? after);
  const head = list(payload, 'commits').find((c) => str(c, 'id') === event.sha);
  event.message = head === undefined ? null : str(head, 'message');
  // Older payloads carry only user_name, a display name: a sender is a login or nothing.
  event.sender = str(payload, 'user_username');
  return { outcome: 'events', events: [event] };
}

const ACTIONS = new Map<string, PullRequestAction>([
  ['open', 'opened'],
  ['reopen', 'reopened'],
  ['close', 'closed'],
  ['merge', 'merged'],
]);

function parseMergeRequest(payload: unknown): ParseResult {
  const repoName = str(payload, 'project.path_with_namespace');
  const mr = at(payload, 'object_attributes');
  if (!repoName || !mr) return { outcome: 'ignored', reason: 'merge request payload without project or object_attributes' };
  const forgeAction = str(mr, 'action') ?? '';
  // `update` is sent for new commits and for edits alike; only new commits carry oldrev.
  const action = forgeAction === 'update' ? (str(mr, 'oldrev') ? 'synchronize' : 'edited') : ACTIONS.get(forgeAction);
  if (!action) return { outcome: 'ignored', reason: `merge request action '${forgeAction}' is not acted on`, repoName };

  const headSha = str(mr, 'last_commit.id') ?? '';
  // The normalized event: a merge builds the merge commit, else the squash commit, else the head.
  const mergeSha = action === 'merged' ? (str(mr, 'merge_commit_sha') ?? str(mr, 'squash_commit_sha')) : null;
  const sourceId = num(mr, 'source_project_id');
  const labels = [...list(mr, 'labels'), ...list(payload, 'labels')]
    .map((l) => str(l, 'title'))
    .filter((l): l is string => l !== null);
  const event = blankEvent('gitlab', 'pull_request', repoName, str(payload, 'project.git_http_url'));
  event.action = action;
  event.pullRequest = {
    number: int(mr, 'iid') ?? 0,
    title: str(mr, 'title') ?? '',
    labels: [...new Set(labels)],
    // work_in_progress is the older name of draft.
    draft: bool(mr, 'draft') || bool(mr, 'work_in_progress'),
    headRef: str(mr, 'source_branch') ?? '',
    headSha,
    headRepo: str(mr, 'source.path_with_namespace'),
    baseRef: str(mr, 'target_branch') ?? '',
    fromFork: sourceId === null || sourceId !== num(mr, 'target_project_id'),
    mergeSha,
  };
  event.branch = action === 'merged' ? event.pullRequest.baseRef : event.pullRequest.headRef;
  event.sha = mergeSha ?? headSha;
  event.before = action === 'synchronize' ? str(mr, 'oldrev') : null;
  event.message = str(mr, 'title');
  event.sender = str(payload, 'user.username');
  return { outcome: 'events', events: [event] };
}

/** GitLab's payload for the event named by X-Gitlab-Event, normalized (docs/pipelines.md, "event"). */
export function parseGitLab(eventName: string, payload: unknown): ParseResult {
  switch (eventName) {
    case 'Push Hook':
    case 'Tag Push Hook':
      return parsePush(payload);
    case 'Merge Request Hook':
      return parseMergeRequest(payload);
    default:
      // System Hooks included: an instance-wide hook is not a repository's hook.
      return { outcome: 'ignored', reason: `event '${eventName}' is not acted on`, repoName: str(payload, 'project.path_with_namespace') };
  }
}

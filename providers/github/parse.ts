import { applyRef, blankEvent, isZeroSha } from '../event.ts';
import { at, bool, int, list, str } from '../read-json.ts';
import type { ParseResult, PullRequestAction } from '../types.ts';

function parsePush(payload: unknown): ParseResult {
  const repoName = str(payload, 'repository.full_name');
  const ref = str(payload, 'ref');
  if (!repoName || !ref) return { outcome: 'ignored', reason: 'push payload without repository.full_name or ref' };
  const event = blankEvent('github', 'push', repoName, str(payload, 'repository.clone_url'));
  applyRef(event, ref);
  event.before = str(payload, 'before');
  event.created = bool(payload, 'created');
  event.deleted = bool(payload, 'deleted');
  event.forced = bool(payload, 'forced');
  const after = str(payload, 'after');
  // For an annotated tag `after` names the tag object; head_commit is the commit it points at.
  event.sha = event.deleted || isZeroSha(after) ? null : (str(payload, 'head_commit.id') ?? after);
  event.message = str(payload, 'head_commit.message');
  event.sender = str(payload, 'sender.login');
  return { outcome: 'events', events: [event] };
}

// A Map, not an object literal: an action named `constructor` must not find a prototype method.
const NEW_COMMITS = new Map<string, PullRequestAction>([
  ['opened', 'opened'],
  ['reopened', 'reopened'],
  ['synchronize', 'synchronize'],
]);
// Changes without new commits: the normalized event calls them all `edited`.
const EDITS = new Set(['edited', 'labeled', 'unlabeled', 'ready_for_review', 'converted_to_draft']);

function parsePullRequest(payload: unknown): ParseResult {
  const repoName = str(payload, 'repository.full_name');
  const forgeAction = str(payload, 'action') ?? '';
  const pr = at(payload, 'pull_request');
  if (!repoName || !pr) return { outcome: 'ignored', reason: 'pull_request payload without repository or pull_request' };
  let action: PullRequestAction | undefined = NEW_COMMITS.get(forgeAction);
  if (forgeAction === 'closed') action = bool(pr, 'merged') ? 'merged' : 'closed';
  else if (EDITS.has(forgeAction)) action = 'edited';
  if (!action) return { outcome: 'ignored', reason: `pull_request action '${forgeAction}' is not acted on`, repoName };

  const headRepo = str(pr, 'head.repo.full_name');
  const headSha = str(pr, 'head.sha') ?? '';
  const mergeSha = action === 'merged' ? str(pr, 'merge_commit_sha') : null;
  const event = blankEvent('github', 'pull_request', repoName, str(payload, 'repository.clone_url'));
  event.action = action;
  event.pullRequest = {
    number: int(pr, 'number') ?? 0,
    title: str(pr, 'title') ?? '',
    labels: list(pr, 'labels').map((l) => str(l, 'name')).filter((l): l is string => l !== null),
    draft: bool(pr, 'draft'),
    headRef: str(pr, 'head.ref') ?? '',
    headSha,
    headRepo,
    baseRef: str(pr, 'base.ref') ?? '',
    fromFork: headRepo === null || headRepo !== str(pr, 'base.repo.full_name'),
    mergeSha,
  };
  event.branch = action === 'merged' ? event.pullRequest.baseRef : event.pullRequest.headRef;
  event.sha = mergeSha ?? headSha;
  event.message = str(pr, 'title');
  event.sender = str(payload, 'sender.login');
  return { outcome: 'events', events: [event] };
}

/** GitHub's payload for the event named by X-GitHub-Event, normalized (docs/pipelines.md, "event"). */
export function parseGitHub(eventName: string, payload: unknown): ParseResult {
  switch (eventName) {
    case 'push':
      return parsePush(payload);
    case 'pull_request':
      return parsePullRequest(payload);
    case 'check_run':
    case 'check_suite': {
      const repoName = str(payload, 'repository.full_name');
      if (str(payload, 'action') !== 'rerequested' || !repoName) {
        return { outcome: 'ignored', reason: `${eventName} '${str(payload, 'action')}' is not acted on`, repoName };
      }
      return eventName === 'check_run'
        ? { outcome: 'rerun', repoName, externalId: str(payload, 'check_run.external_id'), headSha: null }
        : { outcome: 'rerun', repoName, externalId: null, headSha: str(payload, 'check_suite.head_sha') };
    }
    case 'ping':
      return { outcome: 'ignored', reason: 'ping', repoName: str(payload, 'repository.full_name') };
    default:
      return { outcome: 'ignored', reason: `event '${eventName}' is not acted on`, repoName: str(payload, 'repository.full_name') };
  }
}


import { applyRef, blankEvent, isZeroSha } from '../event.ts';
import { at, bool, int, list, num, str } from '../read-json.ts';
import type { ParseResult, PullRequestAction } from '../types.ts';

// isZeroSha also answers true for a missing id; here only a sent all-zero id means "no ref".
function zero(sha: string | null): boolean {
  return sha !== null && isZeroSha(sha);
}

function login(user: unknown): string | null {
  return str(user, 'login') ?? str(user, 'username');
}

/** Gitea's push has no created/deleted/forced flags: the all-zero side says which, and a force push is not told. */
function parsePush(payload: unknown): ParseResult {
  const repoName = str(payload, 'repository.full_name');
  const ref = str(payload, 'ref');
  if (!repoName || !ref) return { outcome: 'ignored', reason: 'push payload without repository.full_name or ref' };
  const event = blankEvent('gitea', 'push', repoName, str(payload, 'repository.clone_url'));
  applyRef(event, ref);
  event.before = str(payload, 'before');
  const after = str(payload, 'after');
  event.created = zero(event.before);
  event.deleted = zero(after);
  // For a new annotated tag `after` names the tag object; head_commit is the commit it points at.
  event.sha = event.deleted ? null : (str(payload, 'head_commit.id') ?? after);
  event.message = str(payload, 'head_commit.message');
  event.sender = login(at(payload, 'sender')) ?? login(at(payload, 'pusher'));
  return { outcome: 'events', events: [event] };
}

/**
 * A branch's or tag's deletion (Gitea's DeletePayload: `ref` is the short
 * name, `ref_type` says which). It starts no run, but the delivery, its
 * explain trace and the cancelling of the branch's runs see it. A tag's
 * deletion also arrives as a push; both say the same.
 */
function parseDelete(payload: unknown): ParseResult {
  const repoName = str(payload, 'repository.full_name');
  const name = str(payload, 'ref');
  const type = str(payload, 'ref_type');
  if (!repoName || !name || (type !== 'branch' && type !== 'tag')) return { outcome: 'ignored', reason: 'delete payload without repository.full_name, ref or a ref_type of branch or tag', repoName };
  const event = blankEvent('gitea', 'push', repoName, str(payload, 'repository.clone_url'));
  applyRef(event, `${type === 'tag' ? 'refs/tags/' : 'refs/heads/'}${name}`);
  event.deleted = true;
  event.sha = null;
  event.sender = login(at(payload, 'sender'));
  return { outcome: 'events', events: [event] };
}

const NEW_COMMITS = new Map<string, PullRequestAction>([
  ['opened', 'opened'],
  ['reopened', 'reopened'],
  ['synchronized', 'synchronize'],
]);
// Changes without new commits: the normalized event calls them all `edited`. Assignees, milestones and review requests are not among them.
const EDITS = new Set(['edited', 'label_updated', 'label_cleared']);

/** Same repository when the ids say so, else (trimmed payloads) when the names do; unknown is a fork. */
function isFork(pr: unknown): boolean {
  const headId = num(pr, 'head.repo_id');
  const baseId = num(pr, 'base.repo_id');
  if (headId !== null && baseId !== null) return headId !== baseId;
  const headName = str(pr, 'head.repo.full_name');
  return headName === null || headName !== str(pr, 'base.repo.full_name');
}

function parsePullRequest(payload: unknown): ParseResult {
  const repoName = str(payload, 'repository.full_name');
  const forgeAction = str(payload, 'action') ?? '';
  const pr = at(payload, 'pull_request');
  if (!repoName || !pr) return { outcome: 'ignored', reason: 'pull_request payload without repository or pull_request' };
  let action = NEW_COMMITS.get(forgeAction);
  if (forgeAction === 'closed') action = bool(pr, 'merged') ? 'merged' : 'closed';
  else if (EDITS.has(forgeAction)) action = 'edited';
  if (!action) return { outcome: 'ignored', reason: `pull_request action '${forgeAction}' is not acted on`, repoName };

  const headSha = str(pr, 'head.sha') ?? '';
  const mergeSha = action === 'merged' ? str(pr, 'merge_commit_sha') : null;
  const event = blankEvent('gitea', 'pull_request', repoName, str(payload, 'repository.clone_url'));
  event.action = action;
  event.pullRequest = {
    number: int(pr, 'number') ?? int(payload, 'number') ?? 0,
    title: str(pr, 'title') ?? '',
    labels: list(pr, 'labels').map((l) => str(l, 'name')).filter((l): l is string => l !== null),
    draft: bool(pr, 'draft'),
    headRef: str(pr, 'head.ref') ?? '',
    headSha,
    headRepo: str(pr, 'head.repo.full_name'),
    baseRef: str(pr, 'base.ref') ?? '',
    fromFork: isFork(pr),
    mergeSha,
  };
  event.branch = action === 'merged' ? event.pullRequest.baseRef : event.pullRequest.headRef;
  event.sha = mergeSha ?? headSha;
  event.message = str(pr, 'title');
  event.sender = login(at(payload, 'sender'));
  return { outcome: 'events', events: [event] };
}

/** Gitea's (or Forgejo's) payload for the event named by X-Gitea-Event, normalized (docs/pipelines.md, "event"). */
export function parseGitea(eventName: string, payload: unknown): ParseResult {
  const repoName = str(payload, 'repository.full_name');
  switch (eventName) {
    case 'push':
      return parsePush(payload);
    case 'pull_request':
      return parsePullRequest(payload);
    case 'delete':
      return parseDelete(payload);
    case 'create':
      // A branch's or tag's creation also arrives as a push, with the commit it starts at.
      return { outcome: 'ignored', reason: `'${eventName}' events are not acted on (the push that comes with it is)`, repoName };
    default:
      return { outcome: 'ignored', reason: `event '${eventName}' is not acted on`, repoName };
  }
}

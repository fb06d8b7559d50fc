import { applyRef, blankEvent, isZeroSha } from '../event.ts';
import { at, bool, int, list, str } from '../read-json.ts';
import type { ForgeEvent, ParseResult, PullRequestAction } from '../types.ts';

/** `PROJECT/slug`, the name Data Center's URLs and API use for a repository (personal projects are `~USER`). */
function repoName(repository: unknown): string | null {
  const project = str(repository, 'project.key');
  const slug = str(repository, 'slug');
  return project && slug ? `${project}/${slug}` : null;
}

/** The HTTP clone URL; the SSH one would need a key Forgeline does not have. */
function cloneUrl(repository: unknown): string | null {
  const link = list(repository, 'links.clone').find((l) => str(l, 'name') === 'http');
  return str(link, 'href');
}

/** The commit message of a pushed head, where the payload carries it (newer Data Center versions only). */
function messageOf(payload: unknown, sha: string): string | null {
  const commits = [at(payload, 'toCommit'), ...list(payload, 'commits')];
  return str(commits.find((c) => str(c, 'id') === sha), 'message');
}

/** One event per ref change: a single push can move several branches and tags. */
function parseRefsChanged(payload: unknown): ParseResult {
  const repository = at(payload, 'repository');
  const name = repoName(repository);
  if (!name) return { outcome: 'ignored', reason: 'repo:refs_changed payload without repository project key and slug' };
  const events: ForgeEvent[] = [];
  for (const change of list(payload, 'changes')) {
    const ref = str(change, 'ref.id') ?? str(change, 'refId');
    if (!ref) continue;
    const type = str(change, 'type');
    const event = blankEvent('bitbucket-server', 'push', name, cloneUrl(repository));
    applyRef(event, ref);
    event.created = type === 'ADD';
    event.deleted = type === 'DELETE';
    // Data Center does not say whether an update was forced: it looks like any UPDATE.
    event.forced = false;
    const from = str(change, 'fromHash');
    const to = str(change, 'toHash');
    event.before = isZeroSha(from) ? null : from;
    event.sha = event.deleted || isZeroSha(to) ? null : to;
    // A new annotated tag's toHash names the tag object; newer versions also send the commit it
    // points at as toCommit. Taken when it is this change's, so statuses land on a commit at once.
    const peeled = str(payload, 'toCommit.id');
    if (event.kind === 'tag' && event.sha && peeled && peeled !== event.sha && list(payload, 'changes').length === 1) event.sha = peeled;
    event.message = event.sha ? messageOf(payload, event.sha) : null;
    event.sender = str(payload, 'actor.name');
    events.push(event);
  }
  if (events.length === 0) return { outcome: 'ignored', reason: 'repo:refs_changed without a ref change', repoName: name };
  return { outcome: 'events', events };
}

const PULL_REQUEST_ACTIONS = new Map<string, PullRequestAction>([
  ['pr:opened', 'opened'],
  ['pr:from_ref_updated', 'synchronize'],
  // Title, description or target branch: no new commits.
  ['pr:modified', 'edited'],
  ['pr:merged', 'merged'],
  ['pr:declined', 'closed'],
  ['pr:deleted', 'closed'],
]);

function parsePullRequest(eventName: string, action: PullRequestAction, payload: unknown): ParseResult {
  const pr = at(payload, 'pullRequest');
  const baseRepository = at(pr, 'toRef.repository');
  const name = repoName(baseRepository);
  if (!name) return { outcome: 'ignored', reason: `${eventName} payload without pullRequest.toRef.repository` };

  const headRepo = repoName(at(pr, 'fromRef.repository'));
  const headSha = str(pr, 'fromRef.latestCommit') ?? '';
  const mergeSha = action === 'merged' ? str(pr, 'properties.mergeCommit.id') : null;
  const event = blankEvent('bitbucket-server', 'pull_request', name, cloneUrl(baseRepository));
  event.action = action;
  event.pullRequest = {
    number: int(pr, 'id') ?? 0,
    title: str(pr, 'title') ?? '',
    labels: [],
    draft: bool(pr, 'draft'),
    headRef: str(pr, 'fromRef.displayId') ?? '',
    headSha,
    headRepo,
    baseRef: str(pr, 'toRef.displayId') ?? '',
    // A personal fork can use the same branch name as its origin: only the repositories tell.
    fromFork: headRepo === null || headRepo !== name,
    mergeSha,
  };
  event.branch = action === 'merged' ? event.pullRequest.baseRef : event.pullRequest.headRef;
  event.sha = mergeSha ?? headSha;
  event.before = action === 'synchronize' ? str(payload, 'previousFromHash') : null;
  event.message = str(pr, 'title');
  event.sender = str(payload, 'actor.name');
  return { outcome: 'events', events: [event] };
}

/** The repository an ignored delivery names, for the hook's cross-repository check. */
function namedRepo(payload: unknown): string | null {
  return repoName(at(payload, 'repository')) ?? repoName(at(payload, 'pullRequest.toRef.repository'));
}

/** Bitbucket Data Center's payload for the event named by X-Event-Key, normalized (docs/pipelines.md, "event"). */
export function parseBitbucketServer(eventName: string, payload: unknown): ParseResult {
  if (eventName === 'repo:refs_changed') return parseRefsChanged(payload);
  const action = PULL_REQUEST_ACTIONS.get(eventName);
  if (action) return parsePullRequest(eventName, action, payload);
  // The "Test connection" button of a webhook.
  if (eventName === 'diagnostics:ping') return { outcome: 'ignored', reason: 'ping', repoName: namedRepo(payload) };
  return { outcome: 'ignored', reason: `event '${eventName}' is not acted on`, repoName: namedRepo(payload) };
}

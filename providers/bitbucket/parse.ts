import { applyRef, blankEvent } from '../event.ts';
import { at, bool, int, list, str } from '../read-json.ts';
import type { ForgeEvent, ParseResult, PullRequestAction } from '../types.ts';

interface Repo {
  name: string;
  cloneUrl: string;
}

/** The repository a payload is about; the clone URL is the web page's plus `.git`, as Bitbucket serves it. */
function repoOf(payload: unknown): Repo | null {
  const name = str(payload, 'repository.full_name');
  if (!name) return null;
  const page = str(payload, 'repository.links.html.href')?.replace(/\/+$/, '');
  return { name, cloneUrl: `${page ?? `https://bitbucket.org/${name}`}.git` };
}

function senderOf(payload: unknown): string | null {
  return str(payload, 'actor.nickname') ?? str(payload, 'actor.display_name');
}

// There is no full ref in a Bitbucket Cloud push: it is rebuilt from the change's type and name.
const REF_PREFIX = new Map([
  ['branch', 'refs/heads/'],
  ['tag', 'refs/tags/'],
  // Documented, though pushes of annotated tags are seen to say `tag` too.
  ['annotated_tag', 'refs/tags/'],
]);

/** One event per ref change: a single push can move several branches and tags. */
function parsePush(payload: unknown): ParseResult {
  const repo = repoOf(payload);
  if (!repo) return { outcome: 'ignored', reason: 'repo:push payload without repository.full_name' };
  const events: ForgeEvent[] = [];
  for (const change of list(payload, 'push.changes')) {
    const next = at(change, 'new');
    const old = at(change, 'old');
    // A deletion has no `new`: the name and type are the old ref's.
    const side = next ?? old;
    const prefix = REF_PREFIX.get(str(side, 'type') ?? '');
    const name = str(side, 'name');
    if (!prefix || !name) continue;
    const event = blankEvent('bitbucket', 'push', repo.name, repo.cloneUrl);
    applyRef(event, `${prefix}${name}`);
    event.deleted = next === null;
    event.created = old === null && next !== null;
    event.forced = bool(change, 'forced');
    event.before = str(old, 'target.hash');
    event.sha = event.deleted ? null : str(next, 'target.hash');
    event.message = event.deleted ? null : str(next, 'target.message');
    event.sender = senderOf(payload);
    events.push(event);
  }
  // Tags made in the web UI arrive as a push with no changes at all.
  if (events.length === 0) return { outcome: 'ignored', reason: 'repo:push without a branch or tag change', repoName: repo.name };
  return { outcome: 'events', events };
}

const PULL_REQUEST_ACTIONS = new Map<string, PullRequestAction>([
  ['pullrequest:created', 'opened'],
  // New commits and edits alike: the planner tells them apart by the head (actionFromHead).
  ['pullrequest:updated', 'synchronize'],
  ['pullrequest:fulfilled', 'merged'],
  ['pullrequest:rejected', 'closed'],
]);

function parsePullRequest(eventName: string, action: PullRequestAction, payload: unknown): ParseResult {
  const repo = repoOf(payload);
  const pr = at(payload, 'pullrequest');
  if (!repo || !pr) return { outcome: 'ignored', reason: `${eventName} payload without repository or pullrequest`, repoName: repo?.name ?? null };

  const headRepo = str(pr, 'source.repository.full_name');
  const baseRepo = str(pr, 'destination.repository.full_name') ?? repo.name;
  // Kept at the 12 characters Bitbucket sends: planning resolves them to full ids.
  const headSha = str(pr, 'source.commit.hash') ?? '';
  const mergeSha = action === 'merged' ? str(pr, 'merge_commit.hash') : null;
  const event = blankEvent('bitbucket', 'pull_request', repo.name, repo.cloneUrl);
  event.action = action;
  event.pullRequest = {
    number: int(pr, 'id') ?? 0,
    title: str(pr, 'title') ?? '',
    labels: [],
    draft: bool(pr, 'draft'),
    headRef: str(pr, 'source.branch.name') ?? '',
    headSha,
    headRepo,
    baseRef: str(pr, 'destination.branch.name') ?? '',
    fromFork: headRepo === null || headRepo !== baseRepo,
    mergeSha,
  };
  event.branch = action === 'merged' ? event.pullRequest.baseRef : event.pullRequest.headRef;
  event.sha = mergeSha ?? headSha;
  event.message = str(pr, 'title');
  event.sender = senderOf(payload);
  return action === 'synchronize'
    ? { outcome: 'events', events: [event], actionFromHead: true }
    : { outcome: 'events', events: [event] };
}

/** Bitbucket Cloud's payload for the event named by X-Event-Key, normalized (docs/pipelines.md, "event"). */
export function parseBitbucket(eventName: string, payload: unknown): ParseResult {
  if (eventName === 'repo:push') return parsePush(payload);
  const action = PULL_REQUEST_ACTIONS.get(eventName);
  if (action) return parsePullRequest(eventName, action, payload);
  const repoName = str(payload, 'repository.full_name');
  // Forgeline's own statuses come back as repo:commit_status_* deliveries.
  if (eventName.startsWith('repo:commit_status_')) return { outcome: 'ignored', reason: `commit status event '${eventName}' is not acted on`, repoName };
  return { outcome: 'ignored', reason: `event '${eventName}' is not acted on`, repoName };
}

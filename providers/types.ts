/** The forges Forgeline speaks to (docs/forges.md). */
export type ForgeName = 'github' | 'gitlab' | 'bitbucket' | 'bitbucket-server' | 'gitea';

export type EventKind = 'push' | 'tag' | 'pull_request' | 'manual' | 'schedule' | 'webhook' | 'ping';

export type PullRequestAction = 'opened' | 'synchronize' | 'reopened' | 'edited' | 'closed' | 'merged';

export interface PullRequestInfo {
  number: number;
  title: string;
  labels: string[];
  draft: boolean;
  headRef: string;
  headSha: string;
  headRepo: string | null;
  baseRef: string;
  fromFork: boolean;
  mergeSha: string | null;
}

/** The normalized event of The normalized event: every field present, null where it does not apply. */
export interface ForgeEvent {
  forge: ForgeName;
  kind: EventKind;
  action: PullRequestAction | null;
  repo: { name: string; cloneUrl: string | null };
  ref: string | null;
  branch: string | null;
  tag: string | null;
  sha: string | null;
  before: string | null;
  created: boolean;
  deleted: boolean;
  forced: boolean;
  message: string | null;
  pullRequest: PullRequestInfo | null;
  sender: string | null;
  source: string | null;
  type: string | null;
}

/** Request headers with lower-case names, as Node gives them. */
export type Headers = Record<string, string | string[] | undefined>;

/** What a provider makes of a verified delivery. */
export type ParseResult =
  | {
    outcome: 'events';
    events: ForgeEvent[];
    /**
     * The payload cannot tell new commits from an edit (Bitbucket Cloud's
     * `pullrequest:updated`): the planner decides `synchronize` or `edited`
     * by comparing the head with the last head seen for that pull request.
     */
    actionFromHead?: boolean;
  }
  | { outcome: 'ignored'; reason: string; repoName?: string | null }
  /** GitHub App mode: a check run (`externalId` names run and stage) or a whole suite (`headSha`) asked to run again. */
  | { outcome: 'rerun'; repoName: string; externalId: string | null; headSha: string | null };

/** One commit status to post: docs/forges.md, "Statuses on the forge". */
export type StatusState = 'queued' | 'waiting' | 'running' | 'success' | 'failure' | 'canceled' | 'skipped';

export interface StatusReport {
  context: string;
  state: StatusState;
  description: string;
  targetUrl: string;
  /** The branch built (Bitbucket Cloud shows a status on a pull request only with it). */
  branch?: string | null;
}

export interface RepoAccess {
  name: string;
  apiUrl: string;
  token: string | null;
}

export type { BranchHead, EnsuredHook, HookSpec } from './forge-api/types.ts';
import type { BranchHead, EnsuredHook, HookSpec } from './forge-api/types.ts';

/** A permanent rejection by the forge (4xx other than rate limits): not worth retrying. */
export class PermanentReportError extends Error {}

/** Telling a delivery's identity and proving it came from the forge. */
export interface Verify {
  /** The forge's own delivery id, or null when the request carries none. */
  deliveryId(headers: Headers): string | null;
  /** True when the raw body is proven by one of the secrets. Constant-time. */
  proves(headers: Headers, rawBody: Buffer, secrets: string[]): boolean;
  /**
   * The bytes the proof covers, when not the body as sent (Gitea signs the JSON
   * inside a form). The duplicate rule keys on them: the same signed delivery
   * re-encoded is the same delivery.
   */
  signedBytes?(headers: Headers, rawBody: Buffer): Buffer;
}

/** Reading a verified delivery into normalized events. */
export interface Parse {
  /** The header that names the event, e.g. x-github-event (lower case). */
  eventHeader: string;
  /** The JSON payload of a verified body (forms carry it in `payload=`), or throws. */
  payloadOf(headers: Headers, rawBody: Buffer): unknown;
  events(headers: Headers, payload: unknown): ParseResult;
}

/** Commit statuses (docs/forges.md, "Statuses on the forge"). */
export interface Statuses {
  post(repo: RepoAccess, sha: string, report: StatusReport): Promise<void>;
  /** The forge's own name for a state. */
  state(state: StatusState): string;
  /** False where the forge refuses a status equal to the current one (GitLab): then only a new state is posted. */
  acceptsSameState: boolean;
}

/** Check runs instead of commit statuses, for repositories registered with an app (GitHub App mode). */
export interface Checks {
  state(state: StatusState): string;
  post(repo: RepoAccess, app: ForgeApp, sha: string, report: StatusReport & { externalId: string; logTail?: string }, checkRunId: string | null): Promise<string>;
}

/** The repository's webhook on the forge. */
export interface Hooks {
  /** Creates the webhook, or updates the one with the same URL (docs/forges.md, "Registering a repository"). */
  ensure(repo: RepoAccess, hook: HookSpec): Promise<EnsuredHook>;
}

/** Noticing deliveries that never arrived (docs/forges.md, "Missed deliveries"). */
export interface Deliveries {
  /** Every branch and its head commit, to notice heads that moved without a delivery. */
  branchHeads(repo: RepoAccess): Promise<BranchHead[]>;
  /** Where the forge can redeliver its failed deliveries itself (GitHub): asks it to, answers the ids redelivered. */
  redeliverMissed?(repo: RepoAccess, hookId: string, since: Date, seen: (deliveryId: string) => Promise<boolean>): Promise<string[]>;
}

/** Reaching the repository: where it is, and how git authenticates to it. */
export interface Credentials {
  defaultApiUrl: string;
  /** Where a repository is cloned from when registration names no clone URL. */
  defaultCloneUrl(apiUrl: string, name: string): string;
  /** Extra `git -c` settings that authenticate a fetch from the clone URL. */
  gitAuthConfig(repo: RepoAccess): string[];
  /** The ref a pull request's head can be fetched from, or null where the forge has none. */
  pullRequestRef(number: number): string | null;
  /** The commit's page on the forge, from the clone URL; null when it cannot be told. */
  commitUrl(cloneUrl: string, sha: string): string | null;
}

/**
 * One forge, by capability: each part is usable alone, and a forge offers
 * the optional ones (`checks`) only where it has them.
 */
export interface Provider {
  name: ForgeName;
  verify: Verify;
  parse: Parse;
  statuses: Statuses;
  checks?: Checks;
  hooks: Hooks;
  deliveries: Deliveries;
  credentials: Credentials;
}

/** An app the forge lets a repository report through (GitHub App: its id and private key). */
export interface ForgeApp {
  appId: string;
  privateKey: string;
}

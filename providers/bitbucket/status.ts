import { createHash } from 'node:crypto';
import { statusDescription } from '../bitbucket-common.ts';
import { request } from '../forge-api/request.ts';
import { bitbucketRepoApi } from './api.ts';
import type { RepoAccess, StatusReport, StatusState } from '../types.ts';

export const STATES: Record<StatusState, 'INPROGRESS' | 'SUCCESSFUL' | 'FAILED' | 'STOPPED'> = {
  queued: 'INPROGRESS',
  waiting: 'INPROGRESS',
  running: 'INPROGRESS',
  success: 'SUCCESSFUL',
  failure: 'FAILED',
  canceled: 'STOPPED',
  skipped: 'SUCCESSFUL',
};

// Bitbucket Cloud rejects longer keys.
const MAX_KEY = 40;

/**
 * The status key: the context itself when it fits, else a stable hash of it
 * (the same context always lands on the same status); the name keeps the context.
 */
export function statusKey(context: string): string {
  if (context.length <= MAX_KEY) return context;
  return `fl-${createHash('sha256').update(context).digest('hex').slice(0, MAX_KEY - 3)}`;
}

export async function postBitbucketStatus(repo: RepoAccess, sha: string, report: StatusReport): Promise<void> {
  const { api, repoUrl } = bitbucketRepoApi(repo, 'posting build statuses needs a token with repository:write');
  const body: Record<string, string> = {
    key: statusKey(report.context),
    state: STATES[report.state],
    name: report.context,
    description: statusDescription(report),
    url: report.targetUrl,
  };
  // Bitbucket shows a status on a pull request only when it names the branch built.
  if (report.branch) body.refname = report.branch;
  await request(api, 'POST', new URL(`${repoUrl}/commit/${encodeURIComponent(sha)}/statuses/build`), body);
}

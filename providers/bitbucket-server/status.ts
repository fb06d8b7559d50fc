import { statusDescription } from '../bitbucket-common.ts';
import { request } from '../forge-api/request.ts';
import { bitbucketServerRepoApi } from './api.ts';
import type { RepoAccess, StatusReport, StatusState } from '../types.ts';

export const STATES: Record<StatusState, 'INPROGRESS' | 'SUCCESSFUL' | 'FAILED' | 'CANCELLED'> = {
  queued: 'INPROGRESS',
  waiting: 'INPROGRESS',
  running: 'INPROGRESS',
  success: 'SUCCESSFUL',
  failure: 'FAILED',
  canceled: 'CANCELLED',
  skipped: 'SUCCESSFUL',
};

export async function postBitbucketServerStatus(repo: RepoAccess, sha: string, report: StatusReport): Promise<void> {
  const { api, repoUrl } = bitbucketServerRepoApi(repo, 'posting build statuses needs an HTTP access token with repository write');
  const body: Record<string, string> = {
    key: report.context,
    state: STATES[report.state],
    url: report.targetUrl,
    name: report.context,
    description: statusDescription(report),
  };
  // Data Center wants the fully qualified ref the build was for.
  if (report.branch) body.ref = report.branch.startsWith('refs/') ? report.branch : `refs/heads/${report.branch}`;
  await request(api, 'POST', new URL(`${repoUrl}/commits/${encodeURIComponent(sha)}/builds`), body);
}

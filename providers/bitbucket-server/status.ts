import { postBuildStatus, statusDescription, statusTarget } from '../bitbucket-common.ts';
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
  const { base, owner, slug } = statusTarget('Bitbucket Data Center', repo.apiUrl, repo.name);
  const body: Record<string, string> = {
    key: report.context,
    state: STATES[report.state],
    url: report.targetUrl,
    name: report.context,
    description: statusDescription(report),
  };
  // Data Center wants the fully qualified ref the build was for.
  if (report.branch) body.ref = report.branch.startsWith('refs/') ? report.branch : `refs/heads/${report.branch}`;
  await postBuildStatus(
    'Bitbucket Data Center',
    `${base}/rest/api/latest/projects/${owner}/repos/${slug}/commits/${encodeURIComponent(sha)}/builds`,
    repo.token,
    body,
  );
}

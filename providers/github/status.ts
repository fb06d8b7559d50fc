import { request } from '../forge-api/request.ts';
import type { RepoAccess, StatusReport, StatusState } from '../types.ts';
import { gitHubRepoApi } from './api.ts';

export const STATES: Record<StatusState, 'pending' | 'success' | 'failure' | 'error'> = {
  queued: 'pending',
  waiting: 'pending',
  running: 'pending',
  success: 'success',
  failure: 'failure',
  canceled: 'error',
  skipped: 'success',
};

// GitHub rejects longer descriptions.
const MAX_DESCRIPTION = 140;

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export async function postGitHubStatus(repo: RepoAccess, sha: string, report: StatusReport): Promise<void> {
  const { api, repoUrl } = gitHubRepoApi(repo, 'posting commit statuses needs the "Commit statuses: write" permission, or repo:status');
  await request(api, 'POST', new URL(`${repoUrl}/statuses/${encodeURIComponent(sha)}`), {
    state: STATES[report.state],
    context: report.context,
    description: truncate(report.description, MAX_DESCRIPTION),
    target_url: report.targetUrl,
  });
}

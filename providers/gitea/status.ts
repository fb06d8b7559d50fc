import { request } from '../forge-api/request.ts';
import type { RepoAccess, StatusReport, StatusState } from '../types.ts';
import { giteaRepoApi } from './api.ts';

export const STATES: Record<StatusState, 'pending' | 'success' | 'failure' | 'error'> = {
  queued: 'pending',
  waiting: 'pending',
  running: 'pending',
  success: 'success',
  failure: 'failure',
  canceled: 'error',
  skipped: 'success',
};

/** Gitea has no skipped state: a skipped stage is a success that says so. */
function descriptionOf(report: StatusReport): string {
  if (report.state !== 'skipped' || report.description.startsWith('skipped')) return report.description;
  return report.description ? `skipped: ${report.description}` : 'skipped';
}

export async function postGiteaStatus(repo: RepoAccess, sha: string, report: StatusReport): Promise<void> {
  const { api, repoUrl } = giteaRepoApi(repo, 'posting commit statuses needs a token with write:repository');
  await request(api, 'POST', new URL(`${repoUrl}/statuses/${encodeURIComponent(sha)}`), {
    state: STATES[report.state],
    target_url: report.targetUrl,
    description: descriptionOf(report),
    context: report.context,
  });
}

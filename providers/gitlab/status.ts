import { request } from '../forge-api/request.ts';
import type { RepoAccess, StatusReport, StatusState } from '../types.ts';
import { gitLabProjectApi } from './api.ts';

type GitLabState = 'pending' | 'running' | 'success' | 'failed' | 'canceled' | 'skipped';

export const STATES: Record<StatusState, GitLabState> = {
  queued: 'pending',
  waiting: 'pending',
  running: 'running',
  success: 'success',
  failure: 'failed',
  canceled: 'canceled',
  skipped: 'skipped',
};

// GitLab rejects a name, description or target URL longer than this.
const MAX_FIELD = 255;

function truncate(text: string): string {
  return text.length <= MAX_FIELD ? text : `${text.slice(0, MAX_FIELD - 1)}…`;
}

export async function postGitLabStatus(repo: RepoAccess, sha: string, report: StatusReport): Promise<void> {
  const { api, projectUrl } = gitLabProjectApi(repo, 'posting commit statuses needs a token with the api scope and the Developer role');
  await request(api, 'POST', new URL(`${projectUrl}/statuses/${encodeURIComponent(sha)}`), {
    state: STATES[report.state],
    name: truncate(report.context),
    description: truncate(report.description),
    // Cut without an ellipsis: what remains still opens the run, without the stage anchor.
    target_url: report.targetUrl.slice(0, MAX_FIELD),
  });
}

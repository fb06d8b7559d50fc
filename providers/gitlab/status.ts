import { type CommitablePipelineStatus, GitbeakerRequestError, Gitlab } from '@gitbeaker/rest';
import { PermanentReportError, type RepoAccess, type StatusReport, type StatusState } from '../types.ts';

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
  const host = repo.apiUrl.replace(/\/+$/, '');
  const api = new Gitlab(repo.token ? { host, token: repo.token } : { host });
  try {
    // gitbeaker's state type lacks `skipped`, which the API accepts.
    await api.Commits.editStatus(repo.name, sha, STATES[report.state] as CommitablePipelineStatus, {
      name: truncate(report.context),
      description: truncate(report.description),
      // Cut without an ellipsis: what remains still opens the run, without the stage anchor.
      targetUrl: report.targetUrl.slice(0, MAX_FIELD),
    });
  } catch (err) {
    const status = err instanceof GitbeakerRequestError ? err.cause?.response.status : undefined;
    if (status && status >= 400 && status < 500 && status !== 429) {
      throw new PermanentReportError(`GitLab answered ${status}: ${(err as Error).message}`);
    }
    throw err;
  }
}

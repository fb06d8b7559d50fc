import { Octokit } from '@octokit/rest';
import { RateLimitedError, retryAfterSeconds } from '../retry-after.ts';
import { PermanentReportError, type RepoAccess, type StatusReport, type StatusState } from '../types.ts';

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
  const [owner, name] = repo.name.split('/') as [string, string];
  const octokit = new Octokit({
    auth: repo.token ?? undefined,
    baseUrl: repo.apiUrl.replace(/\/+$/, ''),
    userAgent: 'forgeline',
    // Failures are the report job's to log, with their run and context; Octokit would print them bare.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    // Retries belong to the report job (with backoff), not to a hidden loop here.
    request: { retries: 0 },
  });
  try {
    await octokit.rest.repos.createCommitStatus({
      owner,
      repo: name,
      sha,
      state: STATES[report.state],
      context: report.context,
      description: truncate(report.description, MAX_DESCRIPTION),
      target_url: report.targetUrl,
    });
  } catch (err) {
    const status = (err as { status?: number }).status;
    const wait = retryAfterSeconds((err as { response?: { headers?: Record<string, string> } }).response?.headers);
    if (wait !== null && (status === 403 || status === 429)) throw new RateLimitedError(`GitHub rate limit: ${(err as Error).message}`, wait);
    // 403 can be GitHub's secondary rate limit and 429 a primary one: both are worth retrying.
    if (status && status >= 400 && status < 500 && status !== 403 && status !== 429) {
      throw new PermanentReportError(`GitHub answered ${status}: ${(err as Error).message}`);
    }
    throw err;
  }
}

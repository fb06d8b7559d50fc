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

// A hung forge must fail the report (to be retried with backoff), not hold it forever.
const TIMEOUT_MS = 30_000;

/** Gitea has no skipped state: a skipped stage is a success that says so. */
function descriptionOf(report: StatusReport): string {
  if (report.state !== 'skipped' || report.description.startsWith('skipped')) return report.description;
  return report.description ? `skipped: ${report.description}` : 'skipped';
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON (a proxy's page): the text itself, shortened, says more than nothing.
  }
  return text.slice(0, 200) || response.statusText;
}

export async function postGiteaStatus(repo: RepoAccess, sha: string, report: StatusReport): Promise<void> {
  const [owner, name] = repo.name.split('/') as [string, string];
  const url = `${repo.apiUrl.replace(/\/+$/, '')}/api/v1/repos/${encodeURIComponent(owner)}/${encodeURIComponent(name)}/statuses/${encodeURIComponent(sha)}`;
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (repo.token) headers.authorization = `token ${repo.token}`;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      state: STATES[report.state],
      target_url: report.targetUrl,
      description: descriptionOf(report),
      context: report.context,
    }),
    signal: AbortSignal.timeout(TIMEOUT_MS),
  });
  if (response.ok) {
    await response.body?.cancel();
    return;
  }
  const message = `Gitea answered ${response.status}: ${await errorMessage(response)}`;
  if (response.status >= 400 && response.status < 500 && response.status !== 429) throw new PermanentReportError(message);
  const wait = retryAfterSeconds(response.headers);
  if (response.status === 429 && wait !== null) throw new RateLimitedError(`Gitea rate limit: ${message}`, wait);
  throw Object.assign(new Error(message), { status: response.status });
}

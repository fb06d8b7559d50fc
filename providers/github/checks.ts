import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/rest';
import { PermanentReportError, type ForgeApp, type RepoAccess, type StatusReport, type StatusState } from '../types.ts';


type CheckStatus = { status: 'queued' | 'in_progress' } | { status: 'completed'; conclusion: 'success' | 'failure' | 'cancelled' | 'skipped' };

const CHECK: Record<StatusState, CheckStatus> = {
  queued: { status: 'queued' },
  waiting: { status: 'queued' },
  running: { status: 'in_progress' },
  success: { status: 'completed', conclusion: 'success' },
  failure: { status: 'completed', conclusion: 'failure' },
  canceled: { status: 'completed', conclusion: 'cancelled' },
  skipped: { status: 'completed', conclusion: 'skipped' },
};

/** The check run state a Forgeline state becomes (queued → in_progress → completed with a conclusion). */
export function checkState(state: StatusState): string {
  const c = CHECK[state];
  return c.status === 'completed' ? `completed:${c.conclusion}` : c.status;
}

// GitHub's output limits.
const MAX_TITLE = 255;
const MAX_TEXT = 65_535;
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const installations = new Map<string, number>();

function clip(text: string, max: number, fromEnd = false): string {
  if (text.length <= max) return text;
  return fromEnd ? `…${text.slice(text.length - max + 1)}` : `${text.slice(0, max - 1)}…`;
}

/** An Octokit acting as the App's installation on the repository. */
async function installationClient(repo: RepoAccess, app: ForgeApp): Promise<Octokit> {
  const [owner, name] = repo.name.split('/') as [string, string];
  const baseUrl = repo.apiUrl.replace(/\/+$/, '');
  const key = `${baseUrl}|${app.appId}|${repo.name}`;
  let installationId = installations.get(key);
  if (!installationId) {
    const asApp = new Octokit({ baseUrl, authStrategy: createAppAuth, auth: { appId: app.appId, privateKey: app.privateKey }, log: quiet, request: { retries: 0 } });
    installationId = (await asApp.rest.apps.getRepoInstallation({ owner, repo: name })).data.id;
    installations.set(key, installationId);
  }
  return new Octokit({ baseUrl, authStrategy: createAppAuth, auth: { appId: app.appId, privateKey: app.privateKey, installationId }, log: quiet, request: { retries: 0 } });
}

/**
 * GitHub App mode: a report is a check run, created once and then updated
 * (queued → in_progress → completed with its conclusion, a summary and the
 * log's tail). Answers the check run's id.
 */
export async function postCheckRun(repo: RepoAccess, app: ForgeApp, sha: string, report: StatusReport & { externalId: string; logTail?: string }, checkRunId: string | null): Promise<string> {
  const [owner, name] = repo.name.split('/') as [string, string];
  const octokit = await installationClient(repo, app);
  const state = CHECK[report.state];
  const output = {
    title: clip(report.description, MAX_TITLE),
    summary: clip(report.description, MAX_TEXT),
    ...(report.logTail ? { text: clip(`\`\`\`\n${report.logTail}\n\`\`\``, MAX_TEXT, true) } : {}),
  };
  const body = {
    owner, repo: name, name: report.context, details_url: report.targetUrl, external_id: report.externalId, output, ...state,
    ...(state.status === 'completed' ? { completed_at: new Date().toISOString() } : {}),
  };
  try {
    if (checkRunId) {
      await octokit.rest.checks.update({ ...body, check_run_id: Number(checkRunId) });
      return checkRunId;
    }
    return String((await octokit.rest.checks.create({ ...body, head_sha: sha })).data.id);
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status && status >= 400 && status < 500 && status !== 403 && status !== 429) {
      throw new PermanentReportError(`GitHub answered ${status}: ${(err as Error).message}`);
    }
    throw err;
  }
}

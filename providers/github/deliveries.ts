import { itemsOf, pages } from '../forge-api/pages.ts';
import { request } from '../forge-api/request.ts';
import { num, str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { gitHubRepoApi, nextByLink } from './api.ts';

interface Attempt {
  id: string;
  guid: string;
  at: number;
  ok: boolean;
}

const HINT = 'redelivering needs admin rights on the repository: a classic token with admin:repo_hook, or a fine-grained one with Webhooks read and write';

function attemptOf(item: Record<string, unknown>): Attempt | null {
  const guid = str(item, 'guid');
  const at = Date.parse(str(item, 'delivered_at') ?? '');
  const status = num(item, 'status_code');
  if (!guid || Number.isNaN(at) || (typeof item.id !== 'number' && typeof item.id !== 'string')) return null;
  // Forgeline answers every delivery it stored with a 2xx (docs/api.md, "Hooks"); anything else (0 = no answer at all) is a failure.
  return { id: String(item.id), guid, at, ok: status !== null && status >= 200 && status < 300 };
}

/** Attempts in time order; ids grow with time and break a tie within one second. */
function byTime(a: Attempt, b: Attempt): number {
  return a.at - b.at || Number(a.id) - Number(b.id);
}

/**
 * docs/forges.md, "Missed deliveries" for GitHub: every event delivered to the hook since `since`
 * whose newest attempt failed, or which `seen` says never reached us, is
 * redelivered. A guid names the event, shared by its redeliveries: only its
 * newest attempt says how it stands. Answers the guids redelivered.
 */
export async function redeliverGitHubMissed(
  repo: RepoAccess,
  hookId: string,
  since: Date,
  seen: (guid: string) => Promise<boolean>,
): Promise<string[]> {
  const { api, repoUrl } = gitHubRepoApi(repo, HINT);
  const deliveries = `${repoUrl}/hooks/${encodeURIComponent(hookId)}/deliveries`;
  const cutoff = since.getTime();
  const newest = new Map<string, Attempt>();
  for await (const page of pages(api, new URL(`${deliveries}?per_page=100`), nextByLink(api))) {
    const attempts = itemsOf(page.body).map(attemptOf).filter((a): a is Attempt => a !== null);
    for (const attempt of attempts) {
      if (attempt.at < cutoff) continue;
      const known = newest.get(attempt.guid);
      if (!known || byTime(attempt, known) > 0) newest.set(attempt.guid, attempt);
    }
    // GitHub lists the newest first: past a page that reaches before `since`, every page is older.
    if (attempts.length === 0 || attempts.some((a) => a.at < cutoff)) break;
  }

  const redelivered: string[] = [];
  // Oldest first, so that pushes to one branch arrive in the order they happened.
  for (const attempt of [...newest.values()].sort(byTime)) {
    if (attempt.ok && (await seen(attempt.guid))) continue;
    try {
      await request(api, 'POST', new URL(`${deliveries}/${encodeURIComponent(attempt.id)}/attempts`));
    } catch (err) {
      // 400 and 422 refuse this one delivery (GitHub keeps deliveries redeliverable for a few days only);
      // it can never succeed and must not hold back the newer ones. Anything else concerns them all.
      const status = (err as { status?: number }).status;
      if (status === 400 || status === 422) continue;
      throw err;
    }
    redelivered.push(attempt.guid);
  }
  return redelivered;
}

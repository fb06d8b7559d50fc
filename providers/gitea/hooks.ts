import type { EnsuredHook, HookSpec } from '../forge-api/types.ts';
import { idOf } from '../forge-api/ids.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { request } from '../forge-api/request.ts';
import { at, str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { GITEA_PAGE_SIZE, giteaRepoApi, nextGiteaPage } from './api.ts';

/**
 * What Forgeline parses from Gitea (docs/pipelines.md, "event"). In Gitea's API `pull_request`
 * already stands for every pull request event (sync, labels, assignees,
 * reviews, comments); `pull_request_sync` is named anyway so that the list
 * says what Forgeline relies on.
 */
// `delete`: a branch's deletion arrives only as that event.
const EVENTS = ['push', 'pull_request', 'pull_request_sync', 'delete'];
const HINT = 'managing webhooks needs admin rights on the repository and a token with the write:repository scope';

/**
 * Creates the repository webhook, or updates the one with the same URL
 * (every page of the list is searched) so that registering twice never
 * leaves two hooks delivering the same events.
 */
export async function ensureGiteaHook(repo: RepoAccess, hook: HookSpec): Promise<EnsuredHook> {
  const { api, repoUrl } = giteaRepoApi(repo, HINT, [hook.secret]);
  const config = { url: hook.url, content_type: 'json', secret: hook.secret };
  const first = new URL(`${repoUrl}/hooks?page=1&limit=${GITEA_PAGE_SIZE}`);
  for await (const page of pages(api, first, nextGiteaPage())) {
    const existing = itemsOf(page.body).find((h) => str(h, 'config.url') === hook.url);
    if (!existing) continue;
    const id = idOf(api, existing.id, 'webhook');
    const body: Record<string, unknown> = { config, events: EVENTS, active: true };
    // An edit sets the branch filter and authorization header to what it is given, absent or not: keep the owner's.
    const branchFilter = str(existing, 'branch_filter');
    if (branchFilter) body.branch_filter = branchFilter;
    const authorization = str(existing, 'authorization_header');
    if (authorization) body.authorization_header = authorization;
    await request(api, 'PATCH', new URL(`${repoUrl}/hooks/${encodeURIComponent(id)}`), body);
    return { id, created: false };
  }
  const created = await request(api, 'POST', new URL(`${repoUrl}/hooks`), { type: 'gitea', config, events: EVENTS, active: true });
  return { id: idOf(api, at(created.body, 'id'), 'webhook'), created: true };
}

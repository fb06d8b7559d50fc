import type { EnsuredHook, HookSpec } from '../forge-api/types.ts';
import { idOf } from '../forge-api/ids.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { request } from '../forge-api/request.ts';
import { at, str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { DC_PAGE_SIZE, bitbucketServerRepoApi, nextDataCenterPage } from './api.ts';

// What Forgeline parses from Data Center (docs/pipelines.md, "event"); tags arrive in repo:refs_changed.
const EVENTS = ['repo:refs_changed', 'pr:opened', 'pr:from_ref_updated', 'pr:modified', 'pr:merged', 'pr:declined', 'pr:deleted'];
const HINT = 'managing webhooks needs the repository admin permission for the token';

/**
 * Creates the repository webhook, or updates the one with the same URL
 * (every page of the list is searched) so that registering twice never
 * leaves two hooks delivering the same events. configuration.secret makes
 * Data Center sign each delivery in X-Hub-Signature (docs/api.md, "Hooks").
 */
export async function ensureBitbucketServerHook(repo: RepoAccess, hook: HookSpec): Promise<EnsuredHook> {
  const { api, repoUrl } = bitbucketServerRepoApi(repo, HINT, [hook.secret]);
  const first = new URL(`${repoUrl}/webhooks?start=0&limit=${DC_PAGE_SIZE}`);
  for await (const page of pages(api, first, nextDataCenterPage())) {
    const existing = itemsOf(page.body).find((h) => str(h, 'url') === hook.url);
    if (!existing) continue;
    const id = idOf(api, existing.id, 'webhook');
    // An update replaces the webhook: keep what the owner set that Forgeline has no opinion on.
    const configuration = at(existing, 'configuration');
    const body: Record<string, unknown> = {
      name: str(existing, 'name') || 'Forgeline',
      url: hook.url,
      active: true,
      events: EVENTS,
      configuration: { ...(configuration && typeof configuration === 'object' ? configuration : {}), secret: hook.secret },
    };
    const sslVerificationRequired = at(existing, 'sslVerificationRequired');
    if (typeof sslVerificationRequired === 'boolean') body.sslVerificationRequired = sslVerificationRequired;
    await request(api, 'PUT', new URL(`${repoUrl}/webhooks/${encodeURIComponent(id)}`), body);
    return { id, created: false };
  }
  const created = await request(api, 'POST', new URL(`${repoUrl}/webhooks`), {
    name: 'Forgeline',
    url: hook.url,
    active: true,
    events: EVENTS,
    configuration: { secret: hook.secret },
  });
  return { id: idOf(api, at(created.body, 'id'), 'webhook'), created: true };
}

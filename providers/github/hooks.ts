import type { EnsuredHook, HookSpec } from '../forge-api/types.ts';
import { idOf } from '../forge-api/ids.ts';
import { itemsOf, pages } from '../forge-api/pages.ts';
import { request } from '../forge-api/request.ts';
import { at, str } from '../read-json.ts';
import type { RepoAccess } from '../types.ts';
import { gitHubRepoApi, nextByLink } from './api.ts';

// What Forgeline parses from GitHub (docs/pipelines.md, "event"); tags arrive as pushes.
const EVENTS = ['push', 'pull_request'];
const HINT = 'managing webhooks needs admin rights on the repository: a classic token with admin:repo_hook, or a fine-grained one with Webhooks read and write';

/**
 * Creates the repository webhook, or updates the one with the same URL
 * (every page of the list is searched) so that registering twice never
 * leaves two hooks delivering the same events.
 */
export async function ensureGitHubHook(repo: RepoAccess, hook: HookSpec): Promise<EnsuredHook> {
  const { api, repoUrl } = gitHubRepoApi(repo, HINT, [hook.secret]);
  const config: Record<string, unknown> = { url: hook.url, content_type: 'json', secret: hook.secret };
  for await (const page of pages(api, new URL(`${repoUrl}/hooks?per_page=100`), nextByLink(api))) {
    const existing = itemsOf(page.body).find((h) => str(h, 'config.url') === hook.url);
    if (!existing) continue;
    const id = idOf(api, existing.id, 'webhook');
    // PATCH replaces the whole config: GitHub drops a secret left out, and would reset a TLS choice the owner made.
    const insecureSsl = at(existing, 'config.insecure_ssl');
    if (typeof insecureSsl === 'string' || typeof insecureSsl === 'number') config.insecure_ssl = insecureSsl;
    await request(api, 'PATCH', new URL(`${repoUrl}/hooks/${encodeURIComponent(id)}`), { active: true, events: EVENTS, config });
    return { id, created: false };
  }
  const created = await request(api, 'POST', new URL(`${repoUrl}/hooks`), { name: 'web', active: true, events: EVENTS, config });
  return { id: idOf(api, at(created.body, 'id'), 'webhook'), created: true };
}

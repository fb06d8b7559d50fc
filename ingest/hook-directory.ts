import { repos, sources, type Pool, type Repo, type SecretBox } from '../store/index.ts';

export interface HookTarget {
  repo: Repo;
  secrets: string[];
}

/**
 * Repositories and their active secrets by hook id or name, cached for a
 * moment so the hook path does not decrypt secrets on every request. A
 * rotated secret is accepted, and a retired one refused, within `ttlMs`.
 */
export function hookDirectory(pool: Pool, box: SecretBox, ttlMs = 2000) {
  const cache = new Map<string, { at: number; value: Promise<HookTarget | null> }>();

  function cached(key: string, load: () => Promise<Repo | null>): Promise<HookTarget | null> {
    const hit = cache.get(key);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const value = (async () => {
      const repo = await load();
      return repo ? { repo, secrets: await repos.activeSecrets(pool, box, repo.id) } : null;
    })();
    cache.set(key, { at: Date.now(), value });
    // A failed load (database down) is not remembered.
    value.catch(() => cache.delete(key));
    if (cache.size > 10_000) cache.delete(cache.keys().next().value!);
    return value;
  }

  const sourceCache = new Map<string, { at: number; value: Promise<{ source: sources.Source; secrets: string[] } | null> }>();
  function cachedSource(hookId: string) {
    const hit = sourceCache.get(hookId);
    if (hit && Date.now() - hit.at < ttlMs) return hit.value;
    const value = (async () => {
      const source = await sources.findSourceByHook(pool, hookId);
      return source ? { source, secrets: await sources.activeSourceSecrets(pool, box, source.id) } : null;
    })();
    sourceCache.set(hookId, { at: Date.now(), value });
    value.catch(() => sourceCache.delete(hookId));
    if (sourceCache.size > 10_000) sourceCache.delete(sourceCache.keys().next().value!);
    return value;
  }

  return {
    bySourceHook: cachedSource,
    byHook: (hookId: string) => cached(`hook:${hookId}`, () => repos.findRepoByHook(pool, hookId)),
    byName: (forge: string, name: string) => cached(`name:${forge}:${name.toLowerCase()}`, () => repos.findRepoByName(pool, forge, name)),
    forget: () => { cache.clear(); sourceCache.clear(); },
  };
}

export type HookDirectory = ReturnType<typeof hookDirectory>;

import { createHash, randomUUID } from 'node:crypto';
import { git } from '../git/index.ts';
import type { StageDefinition } from '../pipelines/index.ts';
import type { StageCache } from '../runners/index.ts';
import { caches, type Repo, type RunRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { mirrorPath } from './mirrors.ts';

/** FORGELINE_CACHE_MAX_BYTES' default: what one repository's caches may hold together. */
export const DEFAULT_CACHE_MAX_BYTES = 10 * 1024 ** 3;

/**
 * The branch a run's caches belong to, and the branches it restores from,
 * in order (docs/pipelines.md, "Caches"): its own, then a pull request's
 * base, then the default branch. A fork's pull request restores only from
 * the base branch (and the default) and never saves: what it would save
 * could poison the next run of the base.
 */
function scopes(run: RunRow, repo: Repo): { own: string | null; restoreFrom: string[] } {
  const e = run.event;
  const own = e.pullRequest ? e.pullRequest.headRef : e.branch ?? (e.tag ? `tag:${e.tag}` : null);
  const fromFork = e.pullRequest?.fromFork === true;
  const order = [fromFork ? null : own, e.pullRequest?.baseRef ?? null, repo.defaultBranch].filter((b): b is string => Boolean(b));
  return { own: fromFork ? null : own, restoreFrom: [...new Set(order)] };
}

/**
 * A `cache:` entry's effective key: `<key>-<sha256>` of the listed files'
 * contents at the run's commit (their blob ids, which are hashes of the
 * contents), the image and the matrix values: a new lock file, image or
 * matrix instance starts a new cache, restored from the newest older one.
 */
async function effectiveKey(deps: SchedulerDeps, repo: Repo, run: RunRow, stage: StageDefinition, entry: StageDefinition['cache'][number]): Promise<string> {
  const hash = createHash('sha256');
  if (entry.files.length) hash.update(await git(['ls-tree', '-r', run.sha, '--', ...entry.files], { cwd: mirrorPath(deps, repo.id) }));
  hash.update(`\0${stage.image ?? ''}\0${JSON.stringify(stage.matrix?.values ?? {})}`);
  return `${entry.key}-${hash.digest('hex').slice(0, 32)}`;
}

/** The stage's caches as the back end restores and saves them. */
export async function stageCaches(deps: SchedulerDeps, repo: Repo, run: RunRow, stage: StageDefinition): Promise<StageCache[]> {
  const { own, restoreFrom } = scopes(run, repo);
  const maxBytes = deps.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES;
  return Promise.all((stage.cache ?? []).map(async (entry) => {
    const key = await effectiveKey(deps, repo, run, stage, entry);
    return {
      key,
      paths: entry.paths,
      async restore(dest) {
        const found = await caches.findCache(deps.pool, repo.id, restoreFrom, key, `${entry.key}-`);
        if (!found) return null;
        if (!(await deps.blobs.get(found.blob, dest))) throw new Error(`its archive is gone from the blob store (${deps.blobs.name})`);
        return { key: found.key };
      },
      save: own === null ? null : async (packed) => {
        const blob = `caches/${encodeURIComponent(repo.id)}/${randomUUID()}`;
        await deps.blobs.put(blob, packed.file);
        const { saved, unused } = await caches.saveCache(deps.pool, { repoId: repo.id, branch: own, key, blob, bytes: packed.size, files: packed.files.length, runId: run.id }, maxBytes);
        await deps.blobs.delete(unused);
        return saved;
      },
    } satisfies StageCache;
  }));
}

/** Deletes a repository's caches of a key (on one branch, or all), archives too; answers how many went. */
export async function deleteCaches(deps: Pick<SchedulerDeps, 'pool' | 'blobs'>, repoId: string, key: string | null, branch: string | null): Promise<number> {
  const blobs = await caches.deleteCaches(deps.pool, repoId, key, branch);
  await deps.blobs.delete(blobs);
  return blobs.length;
}

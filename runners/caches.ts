import { ArtifactError, packArtifacts, unpackArtifacts } from './artifacts.ts';
import type { StageCache, StageSpec } from './backend.ts';

/**
 * The most one cache archive may hold, uncompressed. Archives are kept in
 * the database as one value (PostgreSQL's bytea stops at 1 GiB) and packed in
 * memory; a bigger cache is not saved, and the log says so.
 */
export const MAX_CACHE_ARCHIVE_BYTES = 512 * 1024 * 1024;

/** A cache's paths as globs over the checkout: each path itself and everything under it. */
const globsOf = (cache: StageCache) => cache.paths.flatMap((p) => [p, `${p}/**`]);

/**
 * Restores each cache of the stage into the checkout (docs/pipelines.md,
 * "Caches"), after the checkout and the needed artifacts: answers the keys
 * that were exact hits, which are not saved again. A cache that cannot be
 * restored is reported and skipped: a cache only ever saves time.
 */
export async function restoreCaches(spec: StageSpec, src: string): Promise<Set<string>> {
  const exact = new Set<string>();
  for (const cache of spec.caches ?? []) {
    try {
      const found = await cache.restore();
      if (!found) {
        spec.log(`forgeline: cache ${cache.key}: none yet\n`);
        continue;
      }
      const files = await unpackArtifacts(found.archive, src, { maxBytes: MAX_CACHE_ARCHIVE_BYTES });
      if (found.key === cache.key) exact.add(cache.key);
      spec.log(`forgeline: cache ${cache.key}: restored ${files.length} file(s)${found.key === cache.key ? '' : ` from ${found.key}`}\n`);
    } catch (err) {
      spec.log(`forgeline: cache ${cache.key}: not restored: ${(err as Error).message}\n`);
    }
  }
  return exact;
}

/** After a success: saves each cache that was not an exact hit and that this stage may save. */
export async function saveCaches(spec: StageSpec, src: string, exact: Set<string>): Promise<void> {
  for (const cache of spec.caches ?? []) {
    if (exact.has(cache.key) || !cache.save) continue;
    try {
      const packed = await packArtifacts(src, globsOf(cache), { maxBytes: MAX_CACHE_ARCHIVE_BYTES });
      if (!packed.files.length) {
        spec.log(`forgeline: cache ${cache.key}: nothing to save (${cache.paths.join(', ')} hold no files)\n`);
        continue;
      }
      const saved = await cache.save(packed);
      spec.log(saved
        ? `forgeline: cache ${cache.key}: saved ${packed.files.length} file(s), ${packed.bytes} bytes\n`
        : `forgeline: cache ${cache.key}: another stage saved it first\n`);
    } catch (err) {
      spec.log(`forgeline: cache ${cache.key}: not saved: ${err instanceof ArtifactError ? err.message.replace(/artifact/g, 'cache') : (err as Error).message}\n`);
    }
  }
}

import { withArchiveFile } from './archive-file.ts';
import { ArtifactError, packArtifacts, unpackArtifacts } from './artifacts.ts';
import type { StageCache, StageSpec } from './backend.ts';

/**
 * The most one cache archive may hold, uncompressed: archives are streamed
 * through a file on the worker's disk, so this bounds the disk a save or a
 * restore takes and how long it lasts. A bigger cache is not saved, and the
 * log says so.
 */
export const MAX_CACHE_ARCHIVE_BYTES = 2 * 1024 ** 3;

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
      const restored = await withArchiveFile(async (file) => {
        const found = await cache.restore(file);
        return found && { key: found.key, files: await unpackArtifacts(file, src, { maxBytes: MAX_CACHE_ARCHIVE_BYTES }) };
      });
      if (!restored) {
        spec.log(`forgeline: cache ${cache.key}: none yet\n`);
        continue;
      }
      const { key: found, files } = restored;
      if (found === cache.key) exact.add(cache.key);
      spec.log(`forgeline: cache ${cache.key}: restored ${files.length} file(s)${found === cache.key ? '' : ` from ${found}`}\n`);
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
    const save = cache.save;
    try {
      await withArchiveFile(async (file) => {
        const packed = await packArtifacts(src, globsOf(cache), file, { maxBytes: MAX_CACHE_ARCHIVE_BYTES });
        if (!packed.files.length) {
          spec.log(`forgeline: cache ${cache.key}: nothing to save (${cache.paths.join(', ')} hold no files)\n`);
          return;
        }
        const saved = await save(packed);
        spec.log(saved
          ? `forgeline: cache ${cache.key}: saved ${packed.files.length} file(s), ${packed.bytes} bytes\n`
          : `forgeline: cache ${cache.key}: another stage saved it first\n`);
      });
    } catch (err) {
      spec.log(`forgeline: cache ${cache.key}: not saved: ${err instanceof ArtifactError ? err.message.replace(/artifact/g, 'cache') : (err as Error).message}\n`);
    }
  }
}

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Runs `fn` with the path of an archive file that does not exist yet, in a
 * directory of the worker's own (mode 0700, under the system's temporary
 * directory), removed afterwards. Not in the stage's workspace: the step
 * user owns that, and could plant a link where the worker is about to write.
 */
export async function withArchiveFile<T>(fn: (file: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'forgeline-archive-'));
  try {
    return await fn(path.join(dir, 'archive.gz'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

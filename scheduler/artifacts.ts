import { randomUUID } from 'node:crypto';
import { ArtifactError, type ArtifactSource, type PackedArchive } from '../runners/index.ts';
import { artifacts, waitingOutOutages } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';

/**
 * The artifacts a stage restores: the rows are read now (waiting out a
 * database restart), the archives fetched from the blob store when the back
 * end unpacks them.
 */
export async function artifactSources(deps: SchedulerDeps, runId: number, needs: string[]): Promise<ArtifactSource[]> {
  const kept = await waitingOutOutages(() => artifacts.loadArtifacts(deps.pool, runId, needs));
  return kept.map((a) => ({
    stage: a.stage,
    files: a.files,
    async fetch(dest) {
      // The default store is the database: a restart is waited out, as for every read of the stage's setup.
      if (!(await waitingOutOutages(() => deps.blobs.get(a.blob, dest)))) throw new ArtifactError(`the artifacts of ${a.stage} are gone from the blob store (${deps.blobs.name}): rerun ${a.stage}`);
    },
  }));
}

/**
 * Keeps a stage's packed artifacts: the archive goes to the blob store
 * under a key of its own, then the row names it; an earlier attempt's
 * archive goes once nothing names it. A crash between the two leaves an
 * archive no row names, never a row without its archive.
 */
export async function keepArtifacts(deps: SchedulerDeps, runId: number, stage: string, attempt: number, packed: PackedArchive): Promise<void> {
  const blob = `artifacts/${runId}/${randomUUID()}`;
  await waitingOutOutages(() => deps.blobs.put(blob, packed.file));
  const replaced = await waitingOutOutages(() => artifacts.saveArtifacts(deps.pool, { runId, stage, attempt, blob, files: packed.files, bytes: packed.bytes }));
  if (replaced && replaced !== blob) await deps.blobs.delete([replaced]).catch((err: unknown) => deps.log.warn({ err: (err as Error).message, blob: replaced }, 'an earlier attempt\'s artifacts could not be deleted from the blob store'));
}

import { runs } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';

interface Attempt { runId: number; name: string; attempt: number }

/** A stage attempt's id for its back end: `<run>-<stage>-<attempt>` (names its workspace and containers). */
export function stageId(a: Attempt): string {
  return `${a.runId}-${a.name}-${a.attempt}`;
}

/** The attempt an id names; the stage's name may hold dashes, the run and the attempt do not. */
export function attemptOf(id: string): Attempt | null {
  const m = /^(\d+)-(.+)-(\d+)$/.exec(id);
  return m ? { runId: Number(m[1]), name: m[2]!, attempt: Number(m[3]) } : null;
}

/**
 * Removes what stages no longer running left on this worker's back end (the
 * containers of a worker killed with -9, say): at a worker's start and on
 * every monitor pass.
 */
export async function removeLeftovers(deps: SchedulerDeps): Promise<void> {
  if (!deps.backend.removeLeftovers) return;
  const removed = await deps.backend.removeLeftovers(async (ids) => {
    const attempts = ids.map(attemptOf).filter((a): a is Attempt => a !== null);
    return new Set((await runs.runningAttempts(deps.pool, attempts)).map(stageId));
  });
  if (removed.length) deps.log.info({ stages: removed, backend: deps.backend.name }, 'removed what ended stages left behind');
}

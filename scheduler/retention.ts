import { retention, type BlobStore, type Pool } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';

export type PruneCounts = retention.PruneCounts;

/** Rows per statement: each delete is short, and holds its locks only that long. */
const DELIVERY_BATCH = 500;
const RUN_BATCH = 20;
const CACHE_BATCH = 50;

/**
 * `forgeline prune` and serve's background pass: everything received or
 * created before `cutoff` (deliveries; the logs and artifacts of finished
 * runs, which keep their summary; caches unused since), deleted in small
 * batches with a pause between them, so hooks and workers never wait on a
 * long lock. `dryRun` only counts. Each batch's archives are deleted from
 * the blob store once their rows are gone.
 */
export async function prune({ pool, blobs }: { pool: Pool; blobs: BlobStore }, cutoff: Date, opts: { dryRun?: boolean; pauseMs?: number; stopped?: () => boolean } = {}): Promise<PruneCounts> {
  if (opts.dryRun) return retention.countPrunable(pool, cutoff);
  const total: PruneCounts = { deliveries: 0, runs: 0, logChunks: 0, artifacts: 0, caches: 0 };
  // With a pause, a batch is followed by at least twice its own time idle: pruning takes at
  // most a third of what the database can do, however busy it is (bench:scale measures hooks meanwhile).
  let batchStarted = performance.now();
  const pause = async () => {
    const ms = opts.pauseMs ? Math.max(opts.pauseMs, 2 * (performance.now() - batchStarted)) : 0;
    await new Promise((r) => setTimeout(r, ms));
    batchStarted = performance.now();
  };
  for (let n = -1; n !== 0 && !opts.stopped?.(); await pause()) {
    n = await retention.pruneDeliveries(pool, cutoff, DELIVERY_BATCH);
    total.deliveries += n;
  }
  for (let n = -1; n !== 0 && !opts.stopped?.(); await pause()) {
    const went = await retention.pruneRuns(pool, cutoff, RUN_BATCH);
    n = went.runs;
    total.runs += went.runs;
    total.logChunks += went.logChunks;
    total.artifacts += went.artifacts;
    await blobs.delete(went.blobs);
  }
  for (let n = -1; n !== 0 && !opts.stopped?.(); await pause()) {
    const unused = await retention.pruneCaches(pool, cutoff, CACHE_BATCH);
    await blobs.delete(unused);
    n = unused.length;
    total.caches += n;
  }
  return total;
}

/** The moment `days` days ago. */
export const cutoffOf = (days: number, now = Date.now()) => new Date(now - days * 86_400_000);

/**
 * serve's background retention (FORGELINE_RETENTION_DAYS; 0 keeps
 * everything): a pass soon after start, then every `intervalSeconds`, one
 * at a time, pausing between batches.
 */
export function startPruning(deps: Pick<SchedulerDeps, 'pool' | 'blobs' | 'log'>, days: number, intervalSeconds: number): () => void {
  if (days <= 0) return () => {};
  let running = false;
  let stopped = false;
  const pass = () => {
    if (running || stopped) return;
    running = true;
    const cutoff = cutoffOf(days);
    prune(deps, cutoff, { pauseMs: 50, stopped: () => stopped })
      .then((went) => { if (Object.values(went).some((n) => n > 0)) deps.log.info({ ...went, before: cutoff.toISOString() }, 'pruned what is past retention'); })
      .catch((err) => deps.log.warn({ err: (err as Error).message }, 'retention pass failed'))
      .finally(() => { running = false; });
  };
  const first = setTimeout(pass, Math.min(60_000, intervalSeconds * 1000));
  const timer = setInterval(pass, intervalSeconds * 1000);
  return () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(timer);
  };
}

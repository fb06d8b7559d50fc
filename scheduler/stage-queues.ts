import type { PgBoss } from 'pg-boss';
import type { RunRow } from '../store/index.ts';
import { ensureQueue, QUEUES, STAGE_QUEUE_OPTIONS } from './queues.ts';

/**
 * The label of workers started with `--fork-run-as`: a fork's pull request
 * that runs without approval (`--fork-prs run`) needs it. Reserved.
 */
export const FORK_LABEL = 'forgeline-fork-user';

/** The label of workers whose back end runs images (`--backend docker`): a stage with `image` needs it. Reserved. */
export const CONTAINER_LABEL = 'forgeline-containers';

/**
 * The worker labels a stage needs: its `runs-on` (else the pipeline's),
 * CONTAINER_LABEL when it names an image and, for a fork's pull request that
 * nobody approved, FORK_LABEL. Every attempt of the stage goes to the same
 * workers.
 */
export function stageLabels(run: RunRow, stage: string): string[] {
  const pipeline = run.definition!;
  const def = pipeline.stages.find((s) => s.name === stage);
  const labels = [...(def?.runsOn ?? pipeline.runsOn ?? []), ...(def?.image ? [CONTAINER_LABEL] : [])];
  return run.event.pullRequest?.fromFork && !run.approvedBy ? [...labels, FORK_LABEL] : labels;
}

// Label sets a worker may serve: every subset of its labels (kept small: 6 labels, 63 queues).
export const MAX_LABELS = 6;

/** The queue of stages that need exactly these worker labels (`runs-on`). */
export function stageQueue(labels: string[]): string {
  return labels.length ? `${QUEUES.stage}.${[...new Set(labels)].sort().join('.')}` : QUEUES.stage;
}

/** Every queue a worker with these labels takes stages from. */
export function queuesServedBy(labels: string[]): string[] {
  const sorted = [...new Set(labels)].sort().slice(0, MAX_LABELS);
  const queues: string[] = [];
  for (let mask = 0; mask < 1 << sorted.length; mask++) {
    queues.push(stageQueue(sorted.filter((_, i) => mask & (1 << i))));
  }
  return queues;
}

// The queues known to exist, per pg-boss instance: each instance may have a database of its own (tests run several).
const knownBy = new WeakMap<PgBoss, Set<string>>();

/** Creates a label set's queue the first time it is needed (pg-boss refuses jobs for unknown queues). */
export async function ensureStageQueue(boss: PgBoss, name: string): Promise<void> {
  let known = knownBy.get(boss);
  if (!known) knownBy.set(boss, (known = new Set([QUEUES.stage])));
  if (known.has(name)) return;
  await ensureQueue(boss, name, STAGE_QUEUE_OPTIONS);
  known.add(name);
}

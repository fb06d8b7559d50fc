import type { RunRow } from '../store/index.ts';

/** The environment a stage of a run deploys to, from the run's own parsed file. */
export const environmentOf = (run: RunRow, stage: string): string | undefined =>
  run.definition?.stages.find((s) => s.name === stage)?.environment ?? undefined;

import type { Step } from '../pipelines/types.ts';

export interface StageExecution {
  /** The private checkout the steps run in. */
  workdir: string;
  steps: Step[];
  /** The complete environment of every step: nothing of the worker's own is added. */
  env: Record<string, string>;
  timeoutMs: number;
  /** Aborting cancels the stage: the running step's whole process tree is killed. */
  signal?: AbortSignal;
  /** Receives output as it is produced, in order. */
  log: (chunk: string) => void;
}

export interface StageOutcome {
  status: 'success' | 'failure' | 'canceled';
  reason: string | null;
}

/** Executes one stage's steps. Local processes today; the seam for other runners. */
export interface Runner {
  run(execution: StageExecution): Promise<StageOutcome>;
}

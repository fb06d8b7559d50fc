import type { Step } from '../pipelines/types.ts';
import type { StepUser } from './step-process.ts';

export interface StageExecution {
  /** The private checkout the steps run in. */
  workdir: string;
  steps: Step[];
  /** The pipeline's and stage's `env`; a step's own `env` overrides it. */
  env: Record<string, string>;
  /** The variables of docs/pipelines.md, "What a step gets" (PATH, HOME, CI, FORGELINE_*): over everything, so a file cannot fake them. Nothing of the worker's own is added. */
  ciEnv: Record<string, string>;
  /** The whole stage's limit. */
  timeoutMs: number;
  /** Aborting cancels the stage: the running step's whole process tree is killed. */
  signal?: AbortSignal;
  /** The user steps run as (`--run-as`); null: the worker's own. */
  user?: StepUser | null;
  /** Receives output as it is produced, in order. */
  log: (chunk: string) => void;
}

/** One step as it ran: what the run page folds a log by (docs/api.md, "Runs"). */
export interface StepRecord {
  name: string;
  startedAt: string;
  finishedAt: string;
  /** The shell's exit code; null when it was killed or could not start. */
  exitCode: number | null;
  status: 'success' | 'failure' | 'canceled';
}

export interface StageOutcome {
  status: 'success' | 'failure' | 'canceled';
  reason: string | null;
  /** The steps that ran, in order (absent when none could start). */
  steps?: StepRecord[];
}

/** Executes one stage's steps. Local processes today; the seam for other runners. */
export interface Runner {
  run(execution: StageExecution): Promise<StageOutcome>;
  /** Stops every running step of this process until called with false (the worker lost the database). */
  hold?(held: boolean): void;
}

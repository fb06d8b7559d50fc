import type { PullRequestAction } from '../providers/types.ts';

/** One problem in a pipeline file, located for `file:line:col: message`. */
export interface Problem {
  file: string;
  line: number;
  col: number;
  message: string;
}

export interface Step {
  name: string | null;
  run: string;
  env: Record<string, string>;
  workingDirectory: string | null;
  timeoutMs: number | null;
  continueOnError: boolean;
}

export interface StageDefinition {
  name: string;
  needs: string[];
  /** CEL; null when the stage has no condition. */
  if: string | null;
  /** The condition reads `stages.*`: the stage runs once its needs finished, whatever their result. */
  ifReadsStages: boolean;
  env: Record<string, string>;
  runsOn: string[] | null;
  /** The container image the steps run in; null: on the worker's host. */
  image: string | null;
  timeoutMs: number;
  retries: number;
  steps: Step[];
  artifacts: string[];
  environment: string | null;
  approval: boolean;
  secrets: string[];
}

export interface PushTrigger {
  branches: string[] | null;
  tags: string[] | null;
  paths: string[] | null;
  pathsIgnore: string[] | null;
}

export interface PullRequestTrigger {
  types: PullRequestAction[];
  branches: string[] | null;
  paths: string[] | null;
  pathsIgnore: string[] | null;
}

export interface ManualInput {
  type: 'string' | 'boolean' | 'choice';
  description: string | null;
  options: string[] | null;
  required: boolean;
  default: string | boolean | null;
}

export interface Triggers {
  push?: PushTrigger;
  pull_request?: PullRequestTrigger;
  merge?: { branches: string[] | null };
  manual?: { inputs: Record<string, ManualInput> };
  schedule?: Array<{ cron: string }>;
  webhook?: { sources: string[] | null; types: string[] | null };
}

/** A validated pipeline file (docs/pipelines.md). */
export interface Pipeline {
  name: string;
  file: string;
  on: Triggers;
  if: string | null;
  env: Record<string, string>;
  runsOn: string[];
  concurrency: { group: string; cancelInProgress: boolean } | null;
  stages: StageDefinition[];
}

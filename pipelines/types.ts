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

/** A stage's `services:` entry: a container beside the stage's, in its network namespace. */
export interface Service {
  name: string;
  image: string;
  env: Record<string, string>;
  /** Replaces the image's command. */
  command: string[] | null;
  /** Retried in the service's container until it exits 0; null: the service counts as ready once started. */
  ready: { run: string; timeoutMs: number } | null;
}

/** `resources:` — limits of the stage's containers; null fields take the worker's `--cpus`/`--memory`. */
export interface Resources {
  cpus: number | null;
  /** Bytes. */
  memory: number | null;
  pids: number | null;
}

/** A `cache:` entry: `paths` saved after a success under `key` plus the hash of `files`, restored before the first step. */
export interface CacheSpec {
  key: string;
  files: string[];
  paths: string[];
}

/** Which matrix instance a stage is: `<stage> (<values in axis order>)`. */
export interface MatrixInstance {
  /** The stage's name in the file: `needs: [test]` and `stages.test` mean all its instances. */
  stage: string;
  values: Record<string, string>;
  failFast: boolean;
  maxParallel: number | null;
}

export type PullPolicy = 'always' | 'if-not-present' | 'never';

export interface StageDefinition {
  name: string;
  /** Set on each instance of a stage with `matrix:`; null for a plain stage. */
  matrix: MatrixInstance | null;
  needs: string[];
  /** CEL; null when the stage has no condition. */
  if: string | null;
  /** The condition reads `stages.*`: the stage runs once its needs finished, whatever their result. */
  ifReadsStages: boolean;
  env: Record<string, string>;
  runsOn: string[] | null;
  /** The container image the steps run in (the stage's, else the pipeline's); null: on the worker's host. */
  image: string | null;
  pull: PullPolicy;
  services: Service[];
  resources: Resources;
  cache: CacheSpec[];
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

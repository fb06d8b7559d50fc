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
}

export interface StageDefinition {
  name: string;
  needs: string[];
  steps: Step[];
}

export interface PushTrigger {
  branches: string[] | null;
}

/** A validated pipeline file (SPEC.md §5.1). */
export interface Pipeline {
  name: string;
  file: string;
  on: { push?: PushTrigger };
  stages: StageDefinition[];
}

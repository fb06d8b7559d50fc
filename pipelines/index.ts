export { parsePipelineFile, crossFileProblems, type ParsedFile } from './parse.ts';
export { matchPipeline, type ChangedPaths, type MatchContext, type MatchResult } from './match.ts';
export { evaluateCondition, compileCel } from './cel.ts';
export { decideStage, type StageDecision } from './stage-decision.ts';
export { matchesFilter } from './globs.ts';
export { formatProblem } from './problem.ts';
export { pipelineSchema, schemaPath } from './schema.ts';
export type { ManualInput, Pipeline, Problem, StageDefinition, Step, Triggers } from './types.ts';
export { changedPathsOf } from './changed-paths.ts';
export { gitReads, gitRepoView, type RepoView } from './repo-view.ts';
export { DEFAULT_PLANNING_LIMITS, PlanningLimitError, PlanningPool, sharedPlanningPool, type PlanningLimits } from './planning-pool.ts';
export {
  explainEvent, explainStages, explainStopped, loadPipelines, nameOf, PIPELINE_DIR, PIPELINE_FILE,
  type BrokenFile, type EventExplain, type LoadedPipelines, type PipelineExplain, type StageExplain,
} from './explain.ts';

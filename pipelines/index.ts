export { parsePipelineFile, type ParsedFile } from './parse.ts';
export { matchPipeline, type MatchResult } from './match.ts';
export { matchesFilter } from './globs.ts';
export { formatProblem } from './problem.ts';
export { pipelineSchema, schemaPath } from './schema.ts';
export type { Pipeline, Problem, StageDefinition, Step } from './types.ts';

/** Pipeline files live in this folder of the repository. */
export const PIPELINE_DIR = '.forgeline';
export const PIPELINE_FILE = /\.ya?ml$/;

export { processRunner } from './process-runner.ts';
export { stepEnvironment } from './step-env.ts';
export type { StageOutcome } from './types.ts';
export { spawnStep } from './step-process.ts';
export { secretMasker } from './mask.ts';
export { ArtifactError, DEFAULT_MAX_ARTIFACT_BYTES, packArtifacts, unpackArtifacts } from './artifacts.ts';
export { resolveUser, type RunAsUser } from './run-as.ts';
export type { Backend, StageSpec } from './backend.ts';
export { backendFor, backendNames } from './backends/index.ts';

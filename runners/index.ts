export { processRunner } from './process-runner.ts';
export { stepEnvironment, type StepContext } from './step-env.ts';
export type { Runner, StageExecution, StageOutcome } from './types.ts';
export { spawnStep, type StepProcess, type StepUser } from './step-process.ts';
export { secretMasker, type SecretMasker } from './mask.ts';
export { ArtifactError, DEFAULT_MAX_ARTIFACT_BYTES, packArtifacts, unpackArtifacts } from './artifacts.ts';
export { chownTree, resolveUser, type RunAsUser } from './run-as.ts';
export type { Backend, CheckoutSource, StageResult, StageSpec } from './backend.ts';
export { backendFor, backendNames } from './backends/index.ts';

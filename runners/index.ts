export { processRunner } from './process-runner.ts';
export { stepEnvironment, type StepContext } from './step-env.ts';
export type { Runner, StageExecution, StageOutcome } from './types.ts';

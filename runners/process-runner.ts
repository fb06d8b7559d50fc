import path from 'node:path';
import { killStep, spawnStep } from './step-process.ts';
import type { Runner, StageExecution, StageOutcome } from './types.ts';

/** Runs each step as `bash -eo pipefail -c <run>` in its own process group. */
export const processRunner: Runner = {
  async run(execution: StageExecution): Promise<StageOutcome> {
    const stageDeadline = Date.now() + execution.timeoutMs;
    let softFailure: string | null = null;
    for (const [index, step] of execution.steps.entries()) {
      if (execution.signal?.aborted) return { status: 'canceled', reason: 'canceled' };
      const label = step.name ?? `step ${index + 1}`;
      execution.log(`▶ ${step.name ?? step.run}\n`);
      const child = spawnStep({
        run: step.run,
        cwd: step.workingDirectory ? path.join(execution.workdir, step.workingDirectory) : execution.workdir,
        env: { ...execution.env, ...step.env, ...execution.ciEnv },
        user: execution.user,
      });
      let stopped: 'timeout' | 'step-timeout' | 'canceled' | null = null;
      const stop = (why: NonNullable<typeof stopped>) => { stopped ??= why; killStep(child.pid); };
      const stepDeadline = step.timeoutMs ? Date.now() + step.timeoutMs : Infinity;
      const timer = setTimeout(() => stop(stepDeadline < stageDeadline ? 'step-timeout' : 'timeout'), Math.max(0, Math.min(stageDeadline, stepDeadline) - Date.now()));
      const onAbort = () => stop('canceled');
      execution.signal?.addEventListener('abort', onAbort);
      child.all?.setEncoding('utf8');
      child.all?.on('data', (chunk: string) => execution.log(chunk));
      const result = await child;
      clearTimeout(timer);
      execution.signal?.removeEventListener('abort', onAbort);
      // A step that exits leaves no background process behind it.
      killStep(child.pid);
      if (stopped === 'canceled') return { status: 'canceled', reason: 'canceled' };
      if (stopped === 'timeout') return { status: 'failure', reason: `${label}: stage timed out` };
      let failure: string | null = null;
      if (stopped === 'step-timeout') failure = `${label}: timed out`;
      else if (result.failed && result.exitCode === undefined && !result.signal) failure = `${label}: ${String(result.message ?? 'could not start').split('\n')[0]}`;
      else if (result.exitCode !== 0) failure = `${label}: ${result.signal ? `killed by ${result.signal}` : `exited with ${result.exitCode}`}`;
      if (failure && step.continueOnError) {
        execution.log(`forgeline: ${failure} (continue-on-error)\n`);
        softFailure ??= failure;
      } else if (failure) {
        return { status: 'failure', reason: failure };
      }
    }
    return { status: 'success', reason: softFailure ? `${softFailure}, continued on error` : null };
  },
};

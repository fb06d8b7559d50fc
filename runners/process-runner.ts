import { existsSync } from 'node:fs';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { holdSteps, spawnStep, type StepProcess, type StepProcessOptions } from './step-process.ts';
import type { Runner, StageExecution, StageOutcome, StepRecord } from './types.ts';

/** Starts one step: on the host (spawnStep), or in a container (backends/docker). */
export type StepSpawner = (opts: StepProcessOptions) => StepProcess;

/**
 * The steps of a stage in order, whatever starts them: output streamed,
 * the stage's and each step's timeout, cancel, `continue-on-error`, and
 * the same reasons for every way a step can end.
 */
export async function runSteps(execution: StageExecution, spawn: StepSpawner): Promise<StageOutcome> {
  const steps: StepRecord[] = [];
  const outcome = await stepLoop(execution, spawn, steps);
  return { ...outcome, steps };
}

async function stepLoop(execution: StageExecution, spawn: StepSpawner, steps: StepRecord[]): Promise<StageOutcome> {
  const stageDeadline = Date.now() + execution.timeoutMs;
  let softFailure: string | null = null;
  for (const [index, step] of execution.steps.entries()) {
    if (execution.signal?.aborted) return { status: 'canceled', reason: 'canceled' };
    const label = step.name ?? `step ${index + 1}`;
    // The line the run page folds the log at: the same text as the step's name in the API.
    const shown = step.name ?? step.run;
    execution.log(`▶ ${shown}\n`);
    const startedAt = new Date().toISOString();
    const cwd = step.workingDirectory ? path.join(execution.workdir, step.workingDirectory) : execution.workdir;
    // Else the spawn's ENOENT would name the shell, not the directory.
    if (!existsSync(cwd)) return { status: 'failure', reason: `${label}: working-directory '${step.workingDirectory}' does not exist in the checkout` };
    // One decoder per step: a character split between two chunks is not mangled.
    const decoder = new StringDecoder('utf8');
    const child = spawn({
      run: step.run,
      cwd,
      env: { ...execution.env, ...step.env, ...execution.ciEnv },
      user: execution.user,
      onOutput: (chunk) => {
        const text = decoder.write(chunk);
        if (text) execution.log(text);
      },
    });
    let stopped: 'timeout' | 'step-timeout' | 'canceled' | null = null;
    const stop = (why: NonNullable<typeof stopped>) => { stopped ??= why; child.kill(); };
    const stepDeadline = step.timeoutMs ? Date.now() + step.timeoutMs : Infinity;
    const timer = setTimeout(() => stop(stepDeadline < stageDeadline ? 'step-timeout' : 'timeout'), Math.max(0, Math.min(stageDeadline, stepDeadline) - Date.now()));
    const onAbort = () => stop('canceled');
    execution.signal?.addEventListener('abort', onAbort);
    const result = await child.exited;
    const rest = decoder.end();
    if (rest) execution.log(rest);
    clearTimeout(timer);
    execution.signal?.removeEventListener('abort', onAbort);
    // A step that exits leaves no background process behind it.
    child.kill();
    const record = (status: StepRecord['status']) => steps.push({ name: shown, startedAt, finishedAt: new Date().toISOString(), exitCode: result.exitCode, status });
    if (stopped === 'canceled') {
      record('canceled');
      return { status: 'canceled', reason: 'canceled' };
    }
    if (stopped === 'timeout') {
      record('failure');
      return { status: 'failure', reason: `${label}: stage timed out` };
    }
    let failure: string | null = null;
    if (stopped === 'step-timeout') failure = `${label}: timed out`;
    else if (result.error) failure = `${label}: ${result.error.split('\n')[0]}`;
    else if (result.exitCode !== 0) failure = `${label}: ${result.signal ? `killed by ${result.signal}` : `exited with ${result.exitCode}`}`;
    record(failure ? 'failure' : 'success');
    if (failure && step.continueOnError) {
      execution.log(`forgeline: ${failure} (continue-on-error)\n`);
      softFailure ??= failure;
    } else if (failure) {
      return { status: 'failure', reason: failure };
    }
  }
  return { status: 'success', reason: softFailure ? `${softFailure}, continued on error` : null };
}

/** Runs each step as `bash -eo pipefail -c <run>` in its own process group. */
export const processRunner: Runner = {
  run: (execution) => runSteps(execution, spawnStep),
  hold: holdSteps,
};

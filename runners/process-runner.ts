import { execa } from 'execa';
import path from 'node:path';
import type { Runner, StageExecution, StageOutcome } from './types.ts';

function killTree(pid: number | undefined): void {
  if (!pid) return;
  try {
    // The step leads its own process group (detached), so this reaches every descendant.
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Runs each step as `bash -eo pipefail -c <run>` in its own process group. */
export const processRunner: Runner = {
  async run(execution: StageExecution): Promise<StageOutcome> {
    const stageDeadline = Date.now() + execution.timeoutMs;
    let softFailure: string | null = null;
    for (const [index, step] of execution.steps.entries()) {
      if (execution.signal?.aborted) return { status: 'canceled', reason: 'canceled' };
      const label = step.name ?? `step ${index + 1}`;
      execution.log(`▶ ${step.name ?? step.run}\n`);
      const child = execa('bash', ['-eo', 'pipefail', '-c', step.run], {
        cwd: step.workingDirectory ? path.join(execution.workdir, step.workingDirectory) : execution.workdir,
        env: { ...execution.env, ...step.env, ...execution.ciEnv },
        extendEnv: false,
        detached: true,
        reject: false,
        stdin: 'ignore',
        all: true,
        buffer: false,
      });
      let stopped: 'timeout' | 'step-timeout' | 'canceled' | null = null;
      const stop = (why: NonNullable<typeof stopped>) => { stopped ??= why; killTree(child.pid); };
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
      killTree(child.pid);
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

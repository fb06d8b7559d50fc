import { execa } from 'execa';
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
    const deadline = Date.now() + execution.timeoutMs;
    for (const [index, step] of execution.steps.entries()) {
      if (execution.signal?.aborted) return { status: 'canceled', reason: 'canceled' };
      execution.log(`▶ ${step.name ?? step.run}\n`);
      const child = execa('bash', ['-eo', 'pipefail', '-c', step.run], {
        cwd: execution.workdir,
        env: execution.env,
        extendEnv: false,
        detached: true,
        reject: false,
        stdin: 'ignore',
        all: true,
        buffer: false,
      });
      let stopped: 'timeout' | 'canceled' | null = null;
      const stop = (why: 'timeout' | 'canceled') => { stopped ??= why; killTree(child.pid); };
      const timer = setTimeout(() => stop('timeout'), Math.max(0, deadline - Date.now()));
      const onAbort = () => stop('canceled');
      execution.signal?.addEventListener('abort', onAbort);
      child.all?.setEncoding('utf8');
      child.all?.on('data', (chunk: string) => execution.log(chunk));
      const result = await child;
      clearTimeout(timer);
      execution.signal?.removeEventListener('abort', onAbort);
      // A step that exits leaves no background process behind it.
      killTree(child.pid);
      const label = step.name ?? `step ${index + 1}`;
      if (stopped === 'canceled') return { status: 'canceled', reason: 'canceled' };
      if (stopped === 'timeout') return { status: 'failure', reason: `${label}: timed out` };
      if (result.exitCode !== 0) {
        const how = result.signal ? `killed by ${result.signal}` : `exited with ${result.exitCode}`;
        return { status: 'failure', reason: `${label}: ${how}` };
      }
    }
    return { status: 'success', reason: null };
  },
};

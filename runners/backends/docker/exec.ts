import type Docker from 'dockerode';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { formatSize } from '../../../pipelines/size.ts';
import type { StepProcess, StepProcessOptions } from '../../step-process.ts';

/** Where the checkout appears inside the stage's container. */
export const WORKSPACE = '/workspace';
/** bash -eo pipefail where the image has bash, else sh -e: the run is the script's $1, never spliced into it. */
const SHELL = 'if command -v bash >/dev/null 2>&1; then exec bash -eo pipefail -c "$1"; fi; exec sh -ec "$1"';
/** SIGKILL's exit status: what the kernel's OOM killer leaves (Podman's OOMKilled stays false for an exec). */
const KILLED = 137;

export const envList = (env: Record<string, string>) => Object.entries(env).map(([k, v]) => `${k}=${v}`);

/** Runs one command in a container, its output to `onOutput`, until it ends or `stop` is called. */
async function execute(
  container: Docker.Container, opts: { cmd: string[]; env?: string[]; workingDir?: string; user?: string; onOutput?: (chunk: Buffer) => void },
  stopped: { killed: boolean; stream?: NodeJS.ReadWriteStream },
): Promise<number | null> {
  const exec = await container.exec({ Cmd: opts.cmd, Env: opts.env, WorkingDir: opts.workingDir, AttachStdout: true, AttachStderr: true, User: opts.user });
  if (stopped.killed) return null;
  const started = await exec.start({ hijack: true, stdin: false });
  stopped.stream = started;
  const out = new PassThrough();
  out.on('data', (chunk: Buffer) => opts.onOutput?.(chunk));
  container.modem.demuxStream(started, out, out);
  await new Promise<void>((resolve) => {
    started.on('end', resolve);
    started.on('close', resolve);
    started.on('error', () => resolve());
    if (stopped.killed) resolve();
  });
  if (stopped.killed) return null;
  return (await exec.inspect()).ExitCode ?? null;
}

/** A command in a service's container (its `ready.run`): the exit code, null when it could not run. */
export async function execOnce(container: Docker.Container, command: string): Promise<number | null> {
  return execute(container, { cmd: ['sh', '-c', command] }, { killed: false }).catch(() => null);
}

/**
 * Steps exec'd in the stage's container (`bash -eo pipefail`, else `sh -e`),
 * their output streamed as it comes; killing one kills the container (a
 * step's processes have nowhere else to live). Under a memory limit, a step
 * killed by SIGKILL that nobody here killed was killed for memory.
 */
export function execSpawner(container: Docker.Container, hostDir: string, user: string | undefined, memoryLimit: number | null): (opts: StepProcessOptions) => StepProcess {
  return (opts) => {
    const stopped: { killed: boolean; stream?: NodeJS.ReadWriteStream } = { killed: false };
    const kill = () => {
      if (stopped.killed) return;
      stopped.killed = true;
      // A held (paused) container is let go first: an engine may refuse to kill a paused one.
      void container.unpause().catch(() => {}).finally(() => container.kill().catch(() => {}));
      // Podman keeps an exec session's stream open after its processes died: the step ends here, not there.
      (stopped.stream as unknown as { destroy?: () => void } | undefined)?.destroy?.();
    };
    const exited = (async () => {
      try {
        const exitCode = await execute(container, {
          cmd: ['sh', '-c', SHELL, 'forgeline-step', opts.run],
          env: envList(opts.env),
          workingDir: path.posix.join(WORKSPACE, path.relative(hostDir, opts.cwd)),
          user,
          onOutput: opts.onOutput,
        }, stopped);
        if (stopped.killed) return { exitCode: null, signal: 'SIGKILL' as const, error: null };
        if (exitCode === KILLED && memoryLimit !== null) return { exitCode, signal: null, error: `out of memory (limit ${formatSize(memoryLimit)})` };
        return { exitCode, signal: null, error: null };
      } catch (err) {
        return { exitCode: null, signal: null, error: (err as Error).message };
      }
    })();
    return { exited, kill };
  };
}

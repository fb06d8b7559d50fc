import { existsSync } from 'node:fs';
import { streamThrough, type StreamedExit } from '../git/index.ts';

/**
 * The step's shell runs under a small wrapper that leads the step's process
 * group. setpriv gives the wrapper a parent-death signal, and the wrapper
 * turns that signal into SIGKILL for its whole group: when the process that
 * started it dies, even by SIGKILL, the step and everything it started die
 * with it, so a retried stage never runs beside its lost attempt.
 */
const WRAPPER = 'trap "kill -KILL -$$" TERM; bash -eo pipefail -c "$1" & wait $!';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;

export interface StepUser {
  uid: number;
  gid: number;
}

export interface StepProcessOptions {
  run: string;
  cwd: string;
  env: Record<string, string>;
  /** Run as this user (`--run-as`): setpriv drops to it before the shell starts. */
  user?: StepUser | null;
  /** stdout and stderr, interleaved as they come. */
  onOutput?: (chunk: Buffer) => void;
}

export interface StepProcess {
  /** How the step ended. */
  exited: Promise<StreamedExit>;
  /** Kills the step's whole process group: now, or as soon as it has started. */
  kill(): void;
}

/** Kills a process group; it may be gone already. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/**
 * Starts a step through the spawner (git/spawner.ts): a fork of that small
 * process costs a fraction of a fork of the worker, and the step's
 * parent-death signal then follows the spawner, which ends with the worker.
 */
export function spawnStep(opts: StepProcessOptions): StepProcess {
  const shell = ['bash', '-c', WRAPPER, 'forgeline-step', opts.run];
  const creds = opts.user ? [`--reuid=${opts.user.uid}`, `--regid=${opts.user.gid}`, '--clear-groups'] : [];
  if (!SETPRIV && opts.user) throw new Error('--run-as needs setpriv (util-linux), which is not installed');
  const [file, ...args] = SETPRIV ? [SETPRIV, ...creds, '--pdeathsig', 'TERM', '--', ...shell] : shell;
  let pid: number | null = null;
  let killed = false;
  const exited = streamThrough(file!, args, { cwd: opts.cwd, env: opts.env }, {
    pid(started) {
      pid = started;
      if (killed) killGroup(started);
    },
    output: (chunk) => opts.onOutput?.(chunk),
  });
  return {
    exited,
    kill() {
      killed = true;
      if (pid !== null) killGroup(pid);
    },
  };
}

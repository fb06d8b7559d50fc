import { execa } from 'execa';
import { existsSync } from 'node:fs';

/**
 * The step's shell runs under a small wrapper that leads the step's process
 * group. setpriv gives the wrapper a parent-death signal, and the wrapper
 * turns that signal into SIGKILL for its whole group: when the worker dies,
 * even by SIGKILL, its steps and everything they started die with it, so a
 * retried stage never runs beside its lost attempt.
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
}

export function spawnStep(opts: StepProcessOptions) {
  const shell = ['bash', '-c', WRAPPER, 'forgeline-step', opts.run];
  const creds = opts.user ? [`--reuid=${opts.user.uid}`, `--regid=${opts.user.gid}`, '--clear-groups'] : [];
  if (!SETPRIV && opts.user) throw new Error('--run-as needs setpriv (util-linux), which is not installed');
  const [file, ...args] = SETPRIV ? [SETPRIV, ...creds, '--pdeathsig', 'TERM', '--', ...shell] : shell;
  return execa(file!, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: false,
    detached: true,
    reject: false,
    stdin: 'ignore',
    all: true,
    buffer: false,
  });
}

/** Kills a step's whole process group. */
export function killStep(pid: number | undefined): void {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

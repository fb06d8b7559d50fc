import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { streamThrough, type StreamedExit } from '../git/index.ts';

/**
 * The step's shell runs under a small wrapper that leads the step's process
 * group (and, in a PID namespace, is its init: `kill -KILL -$$` is then
 * `kill -KILL -1`, every process of the namespace). setpriv gives the wrapper a parent-death signal, and the wrapper
 * turns that signal into SIGKILL for its whole group: when the process that
 * started it dies, even by SIGKILL, the step and everything it started die
 * with it, so a retried stage never runs beside its lost attempt.
 */
const WRAPPER = 'trap "kill -KILL -$$" TERM; bash -eo pipefail -c "$1" & wait $!';
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p)) ?? null;
const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'].find((p) => existsSync(p)) ?? null;

/**
 * Each step in a PID namespace of its own, with its own /proc. When the
 * step's shell ends, or the step is killed, the kernel kills every process
 * left in it, also one that called setsid or forked twice to get away from
 * the step's process group; and a step sees no process but its own, so it
 * cannot read another step's environment (its secrets) in /proc, whatever
 * user both run as. Needs root (a worker with --run-as runs as root) and
 * util-linux's unshare; where either is missing, steps run as before, in a
 * process group only.
 */
const NAMESPACE = ['--pid', '--fork', '--kill-child', '--mount-proc'];
let namespaces: boolean | undefined;
export function stepNamespaces(): boolean {
  namespaces ??= Boolean(UNSHARE && SETPRIV) && spawnSync(UNSHARE!, [...NAMESPACE, 'true'], { stdio: 'ignore' }).status === 0;
  return namespaces;
}

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

/** Signals a process group; it may be gone already. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

const killGroup = (pid: number) => signalGroup(pid, 'SIGKILL');

// The process groups of the steps running in this process, and whether they are held.
const groups = new Set<number>();
let held = false;

/**
 * Stops (SIGSTOP) every step of this process, and any step that starts
 * while held, until released (SIGCONT). A worker that cannot reach the
 * database holds its steps before the others could take its stages, so
 * that a retry never runs beside them; a stopped step can still be killed.
 */
export function holdSteps(hold: boolean): void {
  if (held === hold) return;
  held = hold;
  for (const pid of groups) signalGroup(pid, hold ? 'SIGSTOP' : 'SIGCONT');
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
  const step = SETPRIV ? [SETPRIV, ...creds, '--pdeathsig', 'TERM', '--', ...shell] : shell;
  // unshare, the namespace's parent, dies with the spawner too; its --kill-child then takes the namespace down.
  const [file, ...args] = stepNamespaces() ? [SETPRIV!, '--pdeathsig', 'KILL', '--', UNSHARE!, ...NAMESPACE, '--', ...step] : step;
  let pid: number | null = null;
  let killed = false;
  const exited = streamThrough(file!, args, { cwd: opts.cwd, env: opts.env }, {
    pid(started) {
      pid = started;
      groups.add(started);
      if (killed) killGroup(started);
      else if (held) signalGroup(started, 'SIGSTOP');
    },
    output: (chunk) => opts.onOutput?.(chunk),
  });
  const forget = () => { if (pid !== null) groups.delete(pid); };
  exited.then(forget, forget);
  return {
    exited,
    kill() {
      killed = true;
      if (pid !== null) killGroup(pid);
    },
  };
}

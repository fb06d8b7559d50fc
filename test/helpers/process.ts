import { readdirSync, readFileSync } from 'node:fs';

/** A process's state letter from /proc/<pid>/stat (R, S, T for stopped, Z for a zombie…), null when there is none. */
export function processState(pid: number): string | null {
  try {
    // "pid (comm) S …": the state follows the command's closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return null;
  }
}

/** Whether a process still runs: a zombie (exited, not yet reaped by its parent) does not. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const state = processState(pid);
  return state !== null && state !== 'Z';
}

/**
 * Whether an environment (/proc/<pid>/environ) holds every marker. Test
 * files run side by side, each with its own database, so a run's id alone
 * names a run in several of them: markers pair it with the repository.
 */
function hasAll(environ: string, markers: string[]): boolean {
  const vars = new Set(environ.split('\0'));
  return markers.every((m) => vars.has(m));
}

/**
 * The pid, as this test sees it, of a step's process that wrote its own pid
 * (`$$`, `$!`) from inside the step's PID namespace: the live process whose
 * innermost pid is `stepPid` and whose environment holds every marker (the run's
 * `FORGELINE_RUN_ID=<id>`, say). Where steps run without a namespace the two
 * pids are the same. Null when no such process lives.
 */
export function hostPid(stepPid: number, ...markers: string[]): number | null {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const nspid = /^NSpid:\s+(.+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]?.trim().split(/\s+/).map(Number);
      if (nspid?.at(-1) !== stepPid) continue;
      if (hasAll(readFileSync(`/proc/${entry}/environ`, 'utf8'), markers)) return Number(entry);
    } catch {
      // Gone meanwhile.
    }
  }
  return null;
}

/** Every live process whose environment holds every marker: what a run's steps left behind. */
export function processesWith(...markers: string[]): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (hasAll(readFileSync(`/proc/${entry}/environ`, 'utf8'), markers) && alive(Number(entry))) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

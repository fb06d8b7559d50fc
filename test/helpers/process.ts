import { readFileSync } from 'node:fs';

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

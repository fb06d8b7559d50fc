// CPU time spent by the processes of a benchmark, read from /proc (Linux):
// where a request's cost goes when client, server and PostgreSQL share the
// machine's cores.
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const TICK_US = 10_000; // USER_HZ is 100 on Linux

/** utime + stime of one process, in µs; 0 once it is gone. */
function processCpu(pid: number | 'self'): number {
  try {
    // Fields after the command name (which may hold spaces) start at the state, field 3.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_US;
  } catch {
    return 0;
  }
}

/** Every PostgreSQL process of the machine: the server a benchmark uses, with its background workers. */
export function postgresCpu(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('postgres')) total += processCpu(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return total;
}

/** Busy and total jiffies of all cores. */
export function machineTicks(): { busy: number; all: number } {
  // user nice system idle iowait irq softirq steal (guest time is counted in user already)
  const counts = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const all = counts.reduce((a, b) => a + b, 0);
  return { busy: all - counts[3]! - counts[4]!, all };
}

export interface CpuShare {
  /** µs of CPU per request, by process. */
  client: number;
  server: number;
  postgres: number;
  /** Share of the machine's cores that were busy, 0–1. */
  busy: number;
}

export const cpuAvailable = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();

/** Runs `load` (in this process, the client) and answers the CPU each process spent per request. */
export async function cpuPerRequest<T extends { requests: number }>(serverPid: number, load: () => Promise<T>): Promise<T & { cpu: CpuShare | null }> {
  if (!cpuAvailable) return { ...(await load()), cpu: null };
  const before = { client: processCpu('self'), server: processCpu(serverPid), postgres: postgresCpu(), machine: machineTicks() };
  const result = await load();
  const after = { client: processCpu('self'), server: processCpu(serverPid), postgres: postgresCpu(), machine: machineTicks() };
  const per = (k: 'client' | 'server' | 'postgres') => (after[k] - before[k]) / result.requests;
  const busy = (after.machine.busy - before.machine.busy) / Math.max(1, after.machine.all - before.machine.all);
  return { ...result, cpu: { client: per('client'), server: per('server'), postgres: per('postgres'), busy } };
}

/** Requests per second the machine could serve at this CPU cost per request with every core busy. */
export const cpuCeiling = (cpu: CpuShare) => (availableParallelism() * 1e6) / (cpu.client + cpu.server + cpu.postgres);

/** Measures the machine's CPU over a stretch: busy core-µs in all and PostgreSQL's share (µs), from /proc; null where there is none. */
export function cpuMeter(): () => { busy: number; postgres: number } | null {
  if (!cpuAvailable) return () => null;
  const before = { machine: machineTicks(), postgres: postgresCpu() };
  return () => ({ busy: (machineTicks().busy - before.machine.busy) * TICK_US, postgres: postgresCpu() - before.postgres });
}

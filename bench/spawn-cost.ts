// node bench/spawn-cost.ts — what one process spawn costs a Node process, at
// its starting size and again once it holds as much memory as a Forgeline
// worker does (~230 MB resident in the latency benchmark). libuv forks on
// Linux, and a fork copies the parent's page tables: the larger the process,
// the dearer every git command and every step it starts. Then, from that
// large process, a whole step (setpriv, the wrapper, `true`) started by the
// process itself against the same step through the small spawner process.
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { spawnStep } from '../runners/index.ts';

const N = Number(process.env.BENCH_SPAWNS ?? 200);
const spawnTrue = () => new Promise<void>((resolve) => spawn('/bin/true').on('exit', () => resolve()));

async function perCall(fn: () => Promise<unknown>, n = N): Promise<number> {
  for (let i = 0; i < 20; i++) await fn();
  const start = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return (performance.now() - start) / n;
}

const rss = () => `${(process.memoryUsage().rss / 1e6).toFixed(0)} MB resident`;
const small = await perCall(spawnTrue);
console.log(`spawn of /bin/true from a fresh process (${rss()}): ${small.toFixed(2)} ms`);
// Touched memory, as a worker's heap and buffers are.
const held: Buffer[] = [];
while (process.memoryUsage().rss < 230e6) held.push(Buffer.alloc(10e6, 1));
const large = await perCall(spawnTrue);
console.log(`the same from a process of worker size (${rss()}): ${large.toFixed(2)} ms (${(large / small).toFixed(1)}× the fresh process)`);

// The step as the worker used to start it: execa from the worker, same command line.
const WRAPPER = 'trap "kill -KILL -$$" TERM; bash -eo pipefail -c "$1" & wait $!';
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' };
const itself = () => execa('setpriv', ['--pdeathsig', 'TERM', '--', 'bash', '-c', WRAPPER, 'forgeline-step', 'true'],
  { cwd: tmpdir(), env, extendEnv: false, detached: true, reject: false, stdin: 'ignore', all: true, buffer: false });
const through = () => spawnStep({ run: 'true', cwd: tmpdir(), env }).exited;
const direct = await perCall(itself, N / 4);
const spawner = await perCall(through, N / 4);
console.log(`a step of \`true\`, started by the worker-size process itself: ${direct.toFixed(2)} ms; through the spawner: ${spawner.toFixed(2)} ms (${(spawner / direct).toFixed(2)}×)`);

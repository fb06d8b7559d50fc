// node bench/spawn-cost.ts — what one process spawn costs a Node process, at
// its starting size and again once it holds as much memory as a Forgeline
// worker does (~230 MB resident in the latency benchmark). libuv forks on
// Linux, and a fork copies the parent's page tables: the larger the process,
// the dearer every git command and every step it starts.
import { spawn } from 'node:child_process';

const N = Number(process.env.BENCH_SPAWNS ?? 200);
const spawnTrue = () => new Promise<void>((resolve) => spawn('/bin/true').on('exit', () => resolve()));

async function perSpawn(): Promise<number> {
  for (let i = 0; i < 20; i++) await spawnTrue();
  const start = performance.now();
  for (let i = 0; i < N; i++) await spawnTrue();
  return (performance.now() - start) / N;
}

const rss = () => `${(process.memoryUsage().rss / 1e6).toFixed(0)} MB resident`;
const small = await perSpawn();
console.log(`spawn of /bin/true from a fresh process (${rss()}): ${small.toFixed(2)} ms`);
// Touched memory, as a worker's heap and buffers are.
const held: Buffer[] = [];
while (process.memoryUsage().rss < 230e6) held.push(Buffer.alloc(10e6, 1));
const large = await perSpawn();
console.log(`the same from a process of worker size (${rss()}): ${large.toFixed(2)} ms (${(large / small).toFixed(1)}× the fresh process)`);

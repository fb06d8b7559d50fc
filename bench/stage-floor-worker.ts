// A child of bench/workers.ts: the floor of a one-step stage, without the
// database — for each stage, a checkout of the commit from a mirror and the
// step `true` spawned as the process back end spawns it (runners/step-process.ts),
// `concurrency` at a time. Prints "ready", starts at a line on stdin, and
// prints "done" when its stages are.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { createCheckout } from '../git/index.ts';
import { spawnStep } from '../runners/index.ts';

const [mirror, sha, count, concurrency] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4]), Number(process.argv[5] ?? 2)];
const scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-bench-floor-'));
let next = 0;
async function slot(): Promise<void> {
  for (let i = next++; i < count; i = next++) {
    const dir = path.join(scratch, String(i));
    await createCheckout(mirror, sha, dir);
    await spawnStep({ run: 'true', cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).exited;
    await rm(dir, { recursive: true, force: true });
  }
}
console.log('ready');
for await (const _ of createInterface({ input: process.stdin })) break;
await Promise.all(Array.from({ length: concurrency }, slot));
await rm(scratch, { recursive: true, force: true });
console.log('done');
process.exit(0);

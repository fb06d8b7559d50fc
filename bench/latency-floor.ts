import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { PgBoss } from 'pg-boss';
import { createCheckout, ensureCommit, listFilesAt } from '../git/index.ts';
import { spawnStep } from '../runners/index.ts';
import type { createTestRepo } from '../test/helpers/git-repo.ts';

export const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

/**
 * The floor of webhook → first step, each part timed alone on the same
 * repository and machine (medians): two pg-boss hops (plan, then stage),
 * fetching the new commit, reading .forgeline/, making the checkout and
 * spawning the step. Nothing Forgeline adds is in it.
 */
export async function latencyFloor(boss: PgBoss, repo: Awaited<ReturnType<typeof createTestRepo>>, scratch: string): Promise<{ parts: Array<readonly [string, number]>; floor: number }> {
  await boss.createQueue('bench-hop', { notify: true });
  let received: (() => void) | null = null;
  await boss.work('bench-hop', { batchSize: 1, notifyPollingIntervalSeconds: 30 }, async () => { received?.(); });
  const hop: number[] = [];
  for (let i = 0; i < 20; i++) {
    hop.push(await time(async () => {
      const got = new Promise<void>((r) => { received = r; });
      await boss.send('bench-hop', { i });
      await got;
    }));
  }
  const mirror = path.join(scratch, 'bench-mirror.git');
  // What the path runs for a push: its pipeline files are unchanged (their parsed blobs are
  // cached, so only the listing is read) and the payload carries the commit message (no git log).
  const gitOps: Record<string, number[]> = { 'fetch the new commit': [], 'read .forgeline/ (the tree, by the reader)': [], 'make the checkout': [], 'spawn the step': [] };
  for (let i = 0; i < 15; i++) {
    const sha = await repo.commit({ 'm.txt': String(i) });
    gitOps['fetch the new commit']!.push(await time(() => ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, sha)));
    gitOps['read .forgeline/ (the tree, by the reader)']!.push(await time(() => listFilesAt(mirror, sha, '.forgeline', /\.ya?ml$/)));
    const dir = path.join(scratch, `bench-checkout-${i}`);
    gitOps['make the checkout']!.push(await time(() => createCheckout(mirror, sha, dir)));
    gitOps['spawn the step']!.push(await time(() => spawnStep({ run: 'true', cwd: dir, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } }).exited));
    await rm(dir, { recursive: true, force: true });
  }
  const parts = [['pg-boss send → handler (×2: plan, stage)', 2 * pct(hop, 50)] as const, ...Object.entries(gitOps).map(([k, v]) => [k, pct(v, 50)] as const)];
  return { parts, floor: parts.reduce((sum, [, ms]) => sum + ms, 0) };
}

import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { createCheckout } from '../git/index.ts';
import { processAlive } from '../store/index.ts';
import { checkoutMetrics } from './metrics.ts';

interface Prepared {
  dir: string;
  made: Promise<boolean>;
  timer: NodeJS.Timeout;
}

export interface CheckoutRequest {
  mirror: string;
  sha: string;
  /** `--run-as`: a checkout with its own objects (see createCheckout). */
  independent: boolean;
}

export interface PreparedCheckouts {
  /** Whether this process takes stages that need these worker labels. */
  serves(labels: string[]): boolean;
  /** Starts a checkout for a stage expected to start here soon; never waits, never fails. */
  prepare(request: CheckoutRequest): void;
  /** Moves a prepared checkout of the commit to `dest`; false when there is none (make one). */
  take(request: CheckoutRequest, dest: string): Promise<boolean>;
  /** Removes every checkout not taken. */
  close(): Promise<void>;
}

/**
 * Checkouts made ahead of their stage. Planning knows a run's commit well
 * before the first stage's job reaches a worker (the run's transaction, the
 * queue hop, the claim, some 15 ms here); making the checkout meanwhile takes
 * it off the path to the first step. The stage moves it into its workspace
 * (one rename). One nobody takes within `ttlMs` is removed: the stage went
 * to another process, waited for a lock, or never opened. At most `max` wait
 * at once, so a burst of plans cannot fill the disk with them.
 */
export function preparedCheckouts(root: string, workerLabels: string[], opts: { ttlMs?: number; max?: number } = {}): PreparedCheckouts {
  const ttlMs = opts.ttlMs ?? 30_000;
  const max = opts.max ?? 4;
  const waiting = new Map<string, Prepared[]>();
  let count = 0;
  const keyOf = (r: CheckoutRequest) => `${r.mirror}\0${r.sha}\0${r.independent}`;
  void sweepLeftovers(root);

  function unlist(key: string, entry: Prepared): boolean {
    const list = waiting.get(key);
    const at = list?.indexOf(entry) ?? -1;
    if (at < 0) return false;
    list!.splice(at, 1);
    if (!list!.length) waiting.delete(key);
    clearTimeout(entry.timer);
    count--;
    return true;
  }

  async function discard(key: string, entry: Prepared, outcome: 'expired' | 'closed'): Promise<void> {
    if (!unlist(key, entry)) return;
    checkoutMetrics.prepared.inc({ outcome });
    await entry.made;
    await rm(entry.dir, { recursive: true, force: true }).catch(() => {});
  }

  return {
    serves: (labels) => labels.every((l) => workerLabels.includes(l)),

    prepare(request) {
      if (count >= max) return;
      const key = keyOf(request);
      const dir = path.join(root, `.prepared-${process.pid}-${randomBytes(6).toString('hex')}`);
      const made = (async () => {
        mkdirSync(root, { recursive: true });
        await createCheckout(request.mirror, request.sha, dir, { independent: request.independent });
      })().then(() => true, async () => {
        await rm(dir, { recursive: true, force: true }).catch(() => {});
        return false;
      });
      const entry: Prepared = { dir, made, timer: setTimeout(() => void discard(key, entry, 'expired'), ttlMs) };
      entry.timer.unref();
      waiting.set(key, [...(waiting.get(key) ?? []), entry]);
      count++;
    },

    async take(request, dest) {
      const key = keyOf(request);
      const entry = waiting.get(key)?.[0];
      if (!entry || !unlist(key, entry)) return false;
      if (!(await entry.made)) {
        checkoutMetrics.prepared.inc({ outcome: 'failed' });
        return false;
      }
      try {
        // Synchronous, as createCheckout's own writes: three calls that would each wait for a busy event loop.
        mkdirSync(path.dirname(dest), { recursive: true });
        if (existsSync(dest)) await rm(dest, { recursive: true, force: true });
        renameSync(entry.dir, dest);
      } catch {
        await rm(entry.dir, { recursive: true, force: true }).catch(() => {});
        checkoutMetrics.prepared.inc({ outcome: 'failed' });
        return false;
      }
      checkoutMetrics.prepared.inc({ outcome: 'taken' });
      return true;
    },

    async close() {
      const all = [...waiting.entries()].flatMap(([key, list]) => list.map((entry) => [key, entry] as const));
      await Promise.all(all.map(([key, entry]) => discard(key, entry, 'closed')));
    },
  };
}

/** Checkouts a process that died (SIGKILL, a crash) prepared and never removed; those of live processes stay. */
async function sweepLeftovers(root: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const pid = Number(/^\.prepared-(\d+)-/.exec(name)?.[1]);
    if (pid && !processAlive(pid)) await rm(path.join(root, name), { recursive: true, force: true }).catch(() => {});
  }
}

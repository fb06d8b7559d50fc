import type { ForgeEvent } from '../providers/index.ts';
import type { Repo } from '../store/index.ts';
import type { SchedulerDeps } from '../scheduler/deps.ts';
import { fetchCommit } from '../scheduler/mirrors.ts';

const FULL_SHA = /^[0-9a-f]{40}$/;

export type Prefetch = (repo: Repo, events: ForgeEvent[]) => void;

/**
 * Starts fetching a verified delivery's commits into this machine's mirror
 * while the delivery is stored and its plan job travels: the fetch (some
 * 20 ms here) is the longest step before a run can be planned, and planning
 * then finds the commit in the mirror (fetches of one mirror take turns).
 * Best effort and bounded: at most `max` at once; under a burst the rest are
 * left to planning, and a failed fetch is planning's to retry and report.
 */
export function commitPrefetch(deps: SchedulerDeps, max = 2): Prefetch {
  let running = 0;
  return (repo, events) => {
    for (const event of events) {
      const sha = event.pullRequest?.headSha ?? event.sha;
      if (event.deleted || !sha || !FULL_SHA.test(sha) || running >= max) continue;
      running++;
      void fetchCommit(deps, repo, sha, event).catch(() => {}).finally(() => { running--; });
    }
  };
}

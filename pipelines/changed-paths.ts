import { changedFiles, mergeBase } from '../git/index.ts';
import type { ForgeEvent } from '../providers/types.ts';
import type { ChangedPaths } from './match.ts';

/** What planning can ask of the repository: commits, fetched if need be, and branch heads. */
export interface RepoView {
  /** A git directory holding the commits (a bare mirror, or a clone's .git). */
  gitDir: string;
  /** The full id of a commit, fetching it when needed; throws when it cannot be had. */
  ensureCommit(sha: string): Promise<string>;
  /** The default branch's head, or null when unknown. */
  defaultBranchHead(): Promise<string | null>;
  branchHead(branch: string): Promise<string | null>;
}

const ZERO = /^0+$/;

async function diffFromBase(repo: RepoView, baseHead: string | null, head: string, what: string): Promise<ChangedPaths> {
  if (!baseHead) return { unknown: `${what} is unknown` };
  const base = await mergeBase(repo.gitDir, await repo.ensureCommit(baseHead), head);
  if (!base) return { unknown: `no common history with ${what}` };
  return { paths: await changedFiles(repo.gitDir, base, head) };
}

/**
 * Changed paths from git, never from the payload's truncated commit lists:
 * `before..after` for a push, the default branch's merge base for a new
 * branch, the merge base with the base branch for a pull request.
 */
export async function changedPathsOf(repo: RepoView, event: ForgeEvent): Promise<ChangedPaths> {
  try {
    const head = await repo.ensureCommit(event.sha!);
    if (event.kind === 'pull_request') {
      return await diffFromBase(repo, await repo.branchHead(event.pullRequest!.baseRef), head, `base branch '${event.pullRequest!.baseRef}'`);
    }
    if (!event.before || ZERO.test(event.before)) {
      return await diffFromBase(repo, await repo.defaultBranchHead(), head, 'the default branch');
    }
    let before: string;
    try {
      before = await repo.ensureCommit(event.before);
    } catch {
      return { unknown: `history unavailable: ${event.before.slice(0, 12)} is no longer in the repository (a force push?)` };
    }
    return { paths: await changedFiles(repo.gitDir, before, head) };
  } catch (err) {
    return { unknown: `history unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
}

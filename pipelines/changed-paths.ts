import type { ForgeEvent } from '../providers/types.ts';
import type { ChangedPaths } from './match.ts';
import type { RepoView } from './repo-view.ts';

const ZERO = /^0+$/;

async function diffFromBase(repo: RepoView, baseHead: string | null, head: string, what: string): Promise<ChangedPaths> {
  if (!baseHead) return { unknown: `${what} is unknown` };
  const base = await repo.mergeBase(await repo.ensureCommit(baseHead), head);
  if (!base) return { unknown: `no common history with ${what}` };
  return { paths: await repo.changedFiles(base, head) };
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
    return { paths: await repo.changedFiles(before, head) };
  } catch (err) {
    return { unknown: `history unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
}

import path from 'node:path';
import { git } from './run-git.ts';

/** The absolute git directory of a working tree or bare repository. */
export async function gitDirOf(dir: string): Promise<string> {
  return path.resolve(dir, (await git(['rev-parse', '--git-dir'], { cwd: dir })).trim());
}

/** A commit's full id, or null when the repository does not hold it. */
export async function resolveLocalCommit(gitDir: string, rev: string): Promise<string | null> {
  try {
    return (await git(['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], { cwd: gitDir })).trim() || null;
  } catch {
    return null;
  }
}

/** The default branch's head in a clone: origin/HEAD, else main, else master. */
export async function localDefaultBranchHead(gitDir: string): Promise<string | null> {
  for (const rev of ['refs/remotes/origin/HEAD', 'refs/heads/main', 'refs/heads/master', 'refs/remotes/origin/main', 'refs/remotes/origin/master']) {
    const sha = await resolveLocalCommit(gitDir, rev);
    if (sha) return sha;
  }
  return null;
}

/** A branch's head in a clone: the local branch, else origin's. */
export async function localBranchHead(gitDir: string, branch: string): Promise<string | null> {
  return (await resolveLocalCommit(gitDir, `refs/heads/${branch}`)) ?? resolveLocalCommit(gitDir, `refs/remotes/origin/${branch}`);
}

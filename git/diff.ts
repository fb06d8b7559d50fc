import { git } from './run-git.ts';

/** Paths changed between two commits (both sides of a rename), from git itself. */
export async function changedFiles(mirror: string, from: string, to: string): Promise<string[]> {
  const out = await git(['diff', '--name-only', '--no-renames', '-z', from, to], { cwd: mirror });
  return out.split('\0').filter(Boolean);
}

/** The best common ancestor of two commits, or null when they share no history. */
export async function mergeBase(mirror: string, a: string, b: string): Promise<string | null> {
  try {
    return (await git(['merge-base', a, b], { cwd: mirror })).trim() || null;
  } catch {
    return null;
  }
}

/** The commit message of `sha`. */
export async function commitMessage(mirror: string, sha: string): Promise<string> {
  return git(['log', '-1', '--format=%B', sha], { cwd: mirror });
}

/** The default branch a remote's HEAD points at, and its head commit. */
export async function remoteDefaultBranch(url: string, authConfig: string[]): Promise<{ branch: string; sha: string } | null> {
  const out = await git(['ls-remote', '--symref', url, 'HEAD'], { config: authConfig });
  const ref = /^ref: refs\/heads\/(\S+)\tHEAD$/m.exec(out);
  const sha = /^([0-9a-f]{40})\tHEAD$/m.exec(out);
  return ref && sha ? { branch: ref[1]!, sha: sha[1]! } : null;
}

/** The head commit of a remote branch, or null when it has none. */
export async function remoteBranchHead(url: string, authConfig: string[], branch: string): Promise<string | null> {
  const out = await git(['ls-remote', url, `refs/heads/${branch}`], { config: authConfig });
  return /^([0-9a-f]{40})\t/m.exec(out)?.[1] ?? null;
}

/** The patch between two commits, limited to some paths. */
export async function diffOf(gitDir: string, from: string, to: string, paths: string[]): Promise<string> {
  return git(['diff', '--no-color', '--no-ext-diff', from, to, '--', ...paths], { cwd: gitDir });
}

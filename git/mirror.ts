import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { withLock } from './lock.ts';
import { git } from './run-git.ts';

export interface FetchSource {
  cloneUrl: string;
  /** `git -c` settings that authenticate against cloneUrl. */
  authConfig?: string[];
}

async function hasCommit(mirror: string, sha: string): Promise<boolean> {
  try {
    await git(['cat-file', '-e', `${sha}^{commit}`], { cwd: mirror });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes sure the bare mirror at `mirror` holds commit `sha`, fetching it from
 * the clone URL when it does not. Fetches into one mirror are serialized.
 */
export async function ensureCommit(mirror: string, source: FetchSource, sha: string): Promise<void> {
  await withLock(mirror, async () => {
    if (!existsSync(path.join(mirror, 'HEAD'))) {
      await mkdir(mirror, { recursive: true });
      await git(['init', '--quiet', '--bare', mirror]);
    }
    if (await hasCommit(mirror, sha)) return;
    const config = source.authConfig ?? [];
    try {
      // Keep a ref to the commit so that gc never drops it while runs may still need it.
      await git(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', source.cloneUrl, `+${sha}:refs/forgeline/${sha}`], { cwd: mirror, config });
    } catch {
      // Servers that refuse to serve an unadvertised sha: fetch every branch and tag instead.
      await git(['fetch', '--quiet', '--no-write-fetch-head', source.cloneUrl, '+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*'], { cwd: mirror, config });
    }
    if (!(await hasCommit(mirror, sha))) throw new Error(`commit ${sha} is not in ${source.cloneUrl}`);
  });
}

export interface FileAtCommit {
  path: string;
  blob: string;
  content: string;
}

/** The files directly in `dir` at `sha` whose names match `pattern`. */
export async function readFilesAt(mirror: string, sha: string, dir: string, pattern: RegExp): Promise<FileAtCommit[]> {
  let listing: string;
  try {
    listing = await git(['ls-tree', '-z', sha, `${dir.replace(/\/+$/, '')}/`], { cwd: mirror });
  } catch {
    return [];
  }
  const entries = listing.split('\0').filter(Boolean).map((line) => {
    const [meta, file] = line.split('\t') as [string, string];
    const [, type, blob] = meta.split(' ') as [string, string, string];
    return { type, blob, path: file };
  }).filter((e) => e.type === 'blob' && pattern.test(path.posix.basename(e.path)));
  const files: FileAtCommit[] = [];
  for (const e of entries) {
    files.push({ path: e.path, blob: e.blob, content: await git(['cat-file', 'blob', e.blob], { cwd: mirror }) });
  }
  return files;
}

import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { resolveLocalCommit } from './local-repo.ts';
import { withFileLock } from './file-lock.ts';
import { withLock } from './lock.ts';
import { readObject, treeEntries } from './object-reader.ts';
import { git, gitBytes } from './run-git.ts';

export interface FetchSource {
  cloneUrl: string;
  /** `git -c` settings that authenticate against cloneUrl. */
  authConfig?: string[];
  /** Refs that may hold the commit when it is not on a branch (a pull request's head). */
  refs?: string[];
}

const FULL_SHA = /^[0-9a-f]{40}$/;

// A fetch ends with `git maintenance run --auto`, a process of its own even when there is
// nothing to do (some 2.5 ms here). The mirror's fetches skip it, and it runs a while
// later, at most once a minute per mirror: git's housekeeping is safe beside fetches.
const NO_MAINTENANCE = ['maintenance.auto=false'];
const MAINTENANCE_DELAY_MS = 1000;
const maintainedAt = new Map<string, number>();

function maintainLater(mirror: string): void {
  const now = Date.now();
  if (now - (maintainedAt.get(mirror) ?? 0) < 60_000) return;
  maintainedAt.set(mirror, now);
  setTimeout(() => void git(['maintenance', 'run', '--auto', '--quiet'], { cwd: mirror }).catch(() => {}), MAINTENANCE_DELAY_MS).unref();
}

/**
 * Makes sure the bare mirror at `mirror` holds commit `sha` (full or
 * abbreviated), fetching it from the clone URL when it does not, and answers
 * its full id. Fetches into one mirror are serialized: within this process,
 * then across the processes sharing the data dir (a lock file beside the mirror).
 */
export async function ensureCommit(mirror: string, source: FetchSource, sha: string): Promise<string> {
  return withLock(mirror, async () => {
    await mkdir(path.dirname(mirror), { recursive: true });
    return withFileLock(`${mirror}.fetch-lock`, () => fetchInto(mirror, source, sha));
  });
}

/** The fetch itself, holding both locks: a second look first, since a process before this one may have fetched it. */
async function fetchInto(mirror: string, source: FetchSource, sha: string): Promise<string> {
  if (!existsSync(path.join(mirror, 'HEAD'))) {
    await mkdir(mirror, { recursive: true });
    await git(['init', '--quiet', '--bare', mirror]);
  }
  const full = FULL_SHA.test(sha);
  if (await hasFetched(mirror, sha)) return sha;
  // A full id is fetched straight away (a push's new commit is not here yet); any other is looked up first.
  if (!full) {
    const known = await resolveLocalCommit(mirror, sha);
    if (known) return known;
  }
  const config = [...NO_MAINTENANCE, ...(source.authConfig ?? [])];
  const fetch = async (refspecs: string[]) => {
    await git(['fetch', '--quiet', '--no-tags', '--no-write-fetch-head', source.cloneUrl, ...refspecs], { cwd: mirror, config });
    maintainLater(mirror);
  };
  let fetched = false;
  if (full) {
    try {
      // Keep a ref to the commit so that gc never drops it while runs may still need it.
      await fetch([`+${sha}:refs/forgeline/${sha}`]);
      fetched = true;
    } catch {
      // Servers that refuse to serve an unadvertised sha: fetch the refs below instead.
    }
  }
  // A full id fetched into its own ref is there: no need to ask git again (one process less on the hot path).
  if (fetched) return sha;
  // The server would not serve the id by itself: it may be here already, through a branch or a tag.
  const known = full ? await resolveLocalCommit(mirror, sha) : null;
  if (known) return known;
  await fetch(['+refs/heads/*:refs/heads/*', '+refs/tags/*:refs/tags/*']);
  for (const ref of source.refs ?? []) {
    if (await resolveLocalCommit(mirror, sha)) break;
    await fetch([`+${ref}:refs/forgeline/${ref.replace(/^refs\//, '')}`]).catch(() => {});
  }
  const resolved = await resolveLocalCommit(mirror, sha);
  if (!resolved) throw new Error(`commit ${sha} is not in ${source.cloneUrl}`);
  return resolved;
}

/**
 * Whether a commit was fetched by its full id before: it has its own ref, a
 * loose file or a line of packed-refs once git packed them. Files to look at,
 * not a git process (some 7 ms here) on the path of every plan and stage.
 * Safe without the mirror's lock: git writes the ref once the objects are in.
 */
export async function hasFetched(mirror: string, sha: string): Promise<boolean> {
  if (!FULL_SHA.test(sha)) return false;
  if (existsSync(path.join(mirror, 'refs', 'forgeline', sha))) return true;
  const packed = await readFile(path.join(mirror, 'packed-refs'), 'utf8').catch(() => '');
  return packed.includes(`${sha} refs/forgeline/${sha}\n`);
}

export interface FileAtCommit {
  path: string;
  blob: string;
  content: string;
}

export interface BlobEntry {
  path: string;
  blob: string;
}

/** The files directly in `dir` at `sha` whose names match `pattern`, with their blob ids. */
export async function listFilesAt(gitDir: string, sha: string, dir: string, pattern: RegExp): Promise<BlobEntry[]> {
  const folder = dir.replace(/\/+$/, '');
  const matching = (entries: Array<{ type: string; blob: string; path: string }>) =>
    entries.filter((e) => e.type === 'blob' && pattern.test(path.posix.basename(e.path))).map(({ blob, path: p }) => ({ blob, path: p }));
  try {
    const tree = await readObject(gitDir, `${sha}:${folder}`);
    if (!tree || tree.type !== 'tree') return [];
    return matching(treeEntries(tree.content).map((e) => ({ type: e.type, blob: e.oid, path: `${folder}/${e.name}` })));
  } catch {
    // The reader could not be used: one ls-tree instead.
  }
  let listing: string;
  try {
    listing = await git(['ls-tree', '-z', sha, `${folder}/`], { cwd: gitDir });
  } catch {
    return [];
  }
  return matching(listing.split('\0').filter(Boolean).map((line) => {
    const [meta, file] = line.split('\t') as [string, string];
    const [, type, blob] = meta.split(' ') as [string, string, string];
    return { type, blob, path: file };
  }));
}

/** The contents of several blobs, through the repository's reader, else one `git cat-file --batch`. */
export async function readBlobs(gitDir: string, blobs: string[]): Promise<Map<string, string>> {
  const contents = new Map<string, string>();
  if (blobs.length === 0) return contents;
  try {
    const read = await Promise.all(blobs.map((b) => readObject(gitDir, b)));
    read.forEach((o, i) => { if (o?.type === 'blob') contents.set(blobs[i]!, o.content.toString('utf8')); });
    return contents;
  } catch {
    contents.clear();
  }
  const out = await gitBytes(['cat-file', '--batch'], { cwd: gitDir, input: `${blobs.join('\n')}\n` });
  let at = 0;
  while (at < out.length) {
    const eol = out.indexOf(10, at);
    const [id, type, size] = out.subarray(at, eol).toString('utf8').split(' ');
    if (type === 'missing' || size === undefined) { at = eol + 1; continue; }
    const length = Number(size);
    contents.set(id!, out.subarray(eol + 1, eol + 1 + length).toString('utf8'));
    at = eol + 1 + length + 1;
  }
  return contents;
}

/** The files directly in `dir` at `sha` whose names match `pattern`. */
export async function readFilesAt(gitDir: string, sha: string, dir: string, pattern: RegExp): Promise<FileAtCommit[]> {
  const entries = await listFilesAt(gitDir, sha, dir, pattern);
  const contents = await readBlobs(gitDir, entries.map((e) => e.blob));
  return entries.map((e) => ({ ...e, content: contents.get(e.blob) ?? '' }));
}

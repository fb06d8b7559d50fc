import { randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { gunzip, gzip, type ZlibOptions } from 'node:zlib';
import { matchesFilter } from '../pipelines/globs.ts';

/**
 * A stage's `artifacts: [globs]` (docs/pipelines.md), packed on the worker that ran
 * it and unpacked into the checkout of a stage that `needs` it, possibly on
 * another machine. Only the bytes are handled here; where the archive is kept
 * is someone else's business.
 *
 * Archive format: gzip of
 *
 *     forgeline-artifacts/1\n
 *     {"path":"dist/app.js","size":1234,"mode":420}\n   then exactly `size` bytes
 *     … one header and body per file …
 *     {"end":true,"files":N,"bytes":B}\n
 *
 * `path` is relative, `/`-separated and canonical; `mode` is the permission
 * bits (0o777) only. JSON.stringify escapes every control character, so a
 * header is always one line whatever the file name. The end line lets a
 * truncated stream be told from a short one, even when the cut falls between
 * two files. Files come in sorted order and gzip's header carries no time,
 * so the same tree always packs to the same bytes.
 */

export class ArtifactError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArtifactError';
  }
}

export const DEFAULT_MAX_ARTIFACT_BYTES = 100 * 1024 * 1024;
const MAGIC = Buffer.from('forgeline-artifacts/1\n');
/** A header is ~100 bytes; this bounds the line search against garbage. */
const MAX_HEADER_BYTES = 64 * 1024;
/** Room for headers on top of the file bytes when inflating: bounds a gzip bomb without refusing many small files. */
const HEADER_ALLOWANCE = 64 * 1024 * 1024;

interface Entry {
  path: string;
  mode: number;
  data: Buffer;
}

/** Collects the files of `workdir` matching the globs into one archive (a Buffer), refusing what is unsafe. */
export async function packArtifacts(workdir: string, globs: string[], opts: { maxBytes?: number } = {}): Promise<{ archive: Buffer; files: string[]; bytes: number }> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  const root = path.resolve(workdir);
  // Where the checkout really is: its parent is ours, the checkout itself the step user's, who
  // could have swapped it (or any folder in it) for a link to somewhere it may not read.
  const realRoot = path.join(await realpath(path.dirname(root)), path.basename(root));
  const all: string[] = [];
  await collectRegularFiles(root, '', all);
  const files = all.filter((rel) => matchesFilter(rel, globs));

  // Sizes first, so an oversized set is refused before anything is read, with the full total in the message.
  let planned = 0;
  for (const rel of files) planned += (await lstat(path.join(root, rel))).size;
  if (planned > maxBytes) throw tooBig(planned, files.length, maxBytes, globs);

  const chunks: Buffer[] = [MAGIC];
  let bytes = 0;
  for (const rel of files) {
    const { data, mode } = await readRegularFile(root, rel, realRoot);
    bytes += data.length;
    // A file may have grown since it was measured.
    if (bytes > maxBytes) throw tooBig(bytes, files.length, maxBytes, globs);
    chunks.push(headerLine({ path: rel, size: data.length, mode }), data);
  }
  chunks.push(headerLine({ end: true, files: files.length, bytes }));
  const archive = await zlib(gzip, Buffer.concat(chunks), {});
  return { archive, files, bytes };
}

/** Restores an archive into `workdir` (the checkout of a stage that needs the producing stage). */
export async function unpackArtifacts(archive: Buffer, workdir: string, opts: { maxBytes?: number } = {}): Promise<string[]> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  let stream: Buffer;
  try {
    stream = await zlib(gunzip, archive, { maxOutputLength: maxBytes + HEADER_ALLOWANCE });
  } catch (err) {
    throw new ArtifactError(`malformed artifact archive: ${(err as Error).message}`);
  }
  // Resolved once, so a checkout under a symlinked directory (macOS /tmp) is fine; below it, no symlink is.
  const root = await realpath(workdir);
  const entries = parseArchive(stream, maxBytes, root);
  // Every target is checked against the tree before the first write, so a refused archive leaves the checkout as it was.
  for (const entry of entries) await prepareTarget(root, entry.path, false);
  for (const entry of entries) {
    // Checked again while creating directories: the tree is the one the checks above saw unless something else writes to the checkout concurrently, which nothing should.
    const target = await prepareTarget(root, entry.path, true);
    await writeByRename(target, entry);
  }
  return entries.map((e) => e.path);
}

/**
 * Regular files only, in sorted order, `.git` skipped (a repository's own
 * state is not an artifact). Symlinks are neither followed nor packed: one
 * could point outside the checkout and pack the worker's files, and a
 * symlinked directory could loop. Sockets, FIFOs and devices are skipped too.
 */
async function collectRegularFiles(root: string, dir: string, out: string[]): Promise<void> {
  const entries = await readdir(path.join(root, dir), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name === '.git') continue;
    const rel = dir ? `${dir}/${entry.name}` : entry.name;
    if (entry.isDirectory()) await collectRegularFiles(root, rel, out);
    else if (entry.isFile()) out.push(rel);
  }
}

/**
 * Reads one file of the checkout, refusing anything that is not a regular
 * file inside it. The check is on the file as opened (the kernel's own name
 * for the descriptor), so no folder on the way swapped for a link since the
 * walk, nor a checkout swapped whole, can make the worker read a byte from
 * outside: packing runs with the worker's rights, not the step user's.
 */
async function readRegularFile(root: string, rel: string, realRoot: string): Promise<{ data: Buffer; mode: number }> {
  // O_NOFOLLOW: a file swapped for a symlink since the walk is refused, not followed. O_NONBLOCK: one swapped for a FIFO cannot hang the worker.
  let handle;
  try {
    handle = await open(path.join(root, rel), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw new ArtifactError(`artifact ${JSON.stringify(rel)} became a symbolic link while packing`);
    throw err;
  }
  try {
    const opened = await openedPath(handle.fd, path.join(root, rel));
    if (!opened.startsWith(`${realRoot}/`)) {
      throw new ArtifactError(`artifact ${JSON.stringify(rel)} is outside the checkout (a folder on its way is a link, or was swapped for one): nothing was packed`);
    }
    const st = await handle.stat();
    if (!st.isFile()) throw new ArtifactError(`artifact ${JSON.stringify(rel)} is no longer a regular file`);
    return { data: await handle.readFile(), mode: st.mode & 0o777 };
  } finally {
    await handle.close();
  }
}

/** The path of the file an open descriptor refers to, as the kernel names it (Linux); elsewhere the resolved path it was opened by. */
async function openedPath(fd: number, opened: string): Promise<string> {
  try {
    return await readlink(`/proc/self/fd/${fd}`);
  } catch {
    return realpath(opened);
  }
}

function tooBig(bytes: number, files: number, maxBytes: number, globs: string[]): ArtifactError {
  return new ArtifactError(
    `artifacts over the size limit: ${bytes} bytes in ${files} files matched ${JSON.stringify(globs)}, ` +
      `the limit (FORGELINE_ARTIFACT_MAX_BYTES) is ${maxBytes} bytes uncompressed; narrow the globs or exclude files with "!pattern"`,
  );
}

function headerLine(header: object): Buffer {
  return Buffer.from(`${JSON.stringify(header)}\n`);
}

type ZlibFn = (buf: Buffer, options: ZlibOptions, callback: (err: Error | null, result: Buffer) => void) => void;

function zlib(fn: ZlibFn, input: Buffer, options: ZlibOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => fn(input, options, (err, result) => (err ? reject(err) : resolve(result))));
}

function malformed(why: string): ArtifactError {
  return new ArtifactError(`malformed artifact archive: ${why}`);
}

/** Parses and validates the whole stream before anything is written. */
function parseArchive(stream: Buffer, maxBytes: number, root: string): Entry[] {
  if (!stream.subarray(0, MAGIC.length).equals(MAGIC)) throw malformed('not a Forgeline artifact archive');
  const entries: Entry[] = [];
  let pos = MAGIC.length;
  let total = 0;
  for (;;) {
    const newline = stream.indexOf(0x0a, pos);
    if (newline < 0) throw malformed(`truncated after ${entries.length} files (no end marker)`);
    if (newline - pos > MAX_HEADER_BYTES) throw malformed(`header at byte ${pos} is too long`);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(stream.toString('utf8', pos, newline));
    } catch {
      throw malformed(`unreadable header at byte ${pos}`);
    }
    if (typeof header !== 'object' || header === null) throw malformed(`unreadable header at byte ${pos}`);
    const headerAt = pos;
    pos = newline + 1;
    if (header.end === true) {
      if (header.files !== entries.length || header.bytes !== total) throw malformed(`end marker says ${header.files} files and ${header.bytes} bytes, the archive holds ${entries.length} and ${total}`);
      if (pos !== stream.length) throw malformed('data after the end marker');
      refuseConflicts(entries);
      return entries;
    }
    const { path: rel, size, mode } = header;
    if (typeof rel !== 'string') throw malformed(`header at byte ${headerAt} has no path`);
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw malformed(`bad size for ${JSON.stringify(rel)}`);
    if (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 0o777) throw malformed(`bad mode for ${JSON.stringify(rel)}`);
    const why = unsafePath(root, rel);
    if (why) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: ${why}`);
    if (pos + (size as number) > stream.length) throw malformed(`truncated: ${JSON.stringify(rel)} has ${stream.length - pos} of its ${size} bytes`);
    total += size as number;
    if (total > maxBytes) throw new ArtifactError(`artifact archive over the size limit: more than ${maxBytes} bytes uncompressed (FORGELINE_ARTIFACT_MAX_BYTES)`);
    entries.push({ path: rel, mode: mode as number, data: stream.subarray(pos, pos + (size as number)) });
    pos += size as number;
  }
}

/**
 * Only canonical relative paths are accepted, which is all the packer
 * writes: no absolute path, no `..`, `.` or empty segment, no NUL (the
 * kernel would cut the name there), and nothing under `.git` (a hook
 * written there would run on the worker's next git command).
 */
function unsafePath(root: string, rel: string): string | null {
  if (rel === '') return 'it is empty';
  if (rel.includes('\0')) return 'it contains a NUL byte';
  if (rel.startsWith('/') || path.isAbsolute(rel)) return 'it is absolute';
  const segments = rel.split('/');
  if (segments.includes('..')) return 'it has a ".." segment';
  if (segments.some((s) => s === '' || s === '.')) return 'it is not a canonical relative path';
  if (segments.includes('.git')) return 'it writes into .git';
  // Redundant after the checks above, kept as the rule they exist to enforce.
  if (!path.resolve(root, rel).startsWith(root + path.sep)) return 'it resolves outside the working directory';
  return null;
}

/** Duplicates, and a path that is a file in one entry and a directory in another, are refused rather than resolved by order. */
function refuseConflicts(entries: Entry[]): void {
  const files = new Set<string>();
  const dirs = new Set<string>();
  for (const { path: rel } of entries) {
    if (files.has(rel)) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: it appears twice`);
    files.add(rel);
    const segments = rel.split('/');
    for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'));
  }
  for (const rel of files) if (dirs.has(rel)) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: it is both a file and a directory in the archive`);
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Walks `rel`'s parents from `root` with lstat, so a symlink already in the
 * checkout (committed to the repository, say) is never followed: writing
 * through `dist -> /home/worker` would land outside. With `create`, missing
 * directories are made on the way. Returns the absolute target.
 */
async function prepareTarget(root: string, rel: string, create: boolean): Promise<string> {
  const segments = rel.split('/');
  let dir = root;
  for (let i = 0; i < segments.length - 1; i++) {
    dir = path.join(dir, segments[i]!);
    let st = await lstatOrNull(dir);
    if (!st && create) {
      await mkdir(dir, { mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
      st = await lstat(dir);
    }
    // Nothing below a missing directory exists yet, and the archive only ever creates directories and regular files.
    if (!st) return path.join(root, rel);
    const prefix = JSON.stringify(segments.slice(0, i + 1).join('/'));
    if (st.isSymbolicLink()) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: ${prefix} in the working directory is a symbolic link`);
    if (!st.isDirectory()) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: ${prefix} in the working directory is not a directory`);
  }
  const target = path.join(root, rel);
  const st = await lstatOrNull(target);
  if (st?.isSymbolicLink()) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: it is a symbolic link in the working directory`);
  if (st && !st.isFile()) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: it exists in the working directory and is not a regular file`);
  return target;
}

/**
 * Written to a fresh file beside the target, then renamed over it: the
 * rename replaces the directory entry, so an existing file is never written
 * through (a hard link to something outside would be), and a reader never
 * sees half a file.
 */
async function writeByRename(target: string, entry: Entry): Promise<void> {
  const temp = path.join(path.dirname(target), `.forgeline-artifact-${randomUUID()}.tmp`);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      await handle.writeFile(entry.data);
      // Explicitly, since the umask would otherwise decide the bits.
      await handle.chmod(entry.mode);
    } finally {
      await handle.close();
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw err;
  }
}

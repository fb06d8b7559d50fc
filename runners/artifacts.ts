import { randomUUID } from 'node:crypto';
import { constants, createReadStream, createWriteStream, type Stats } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
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

/** An archive on disk, as packed: where it is, what it holds, and its size. */
export interface PackedArchive {
  /** The archive file (gzip). */
  file: string;
  /** The files it holds, in order. */
  files: string[];
  /** Their bytes, uncompressed. */
  bytes: number;
  /** The archive's own size on disk. */
  size: number;
}

interface EntryHeader {
  path: string;
  size: number;
  mode: number;
}

/**
 * Collects the files of `workdir` matching the globs into an archive written
 * to `dest` (created; it must not exist), refusing what is unsafe. Streamed:
 * no file and no archive is held in memory whole, whatever its size.
 */
export async function packArtifacts(workdir: string, globs: string[], dest: string, opts: { maxBytes?: number } = {}): Promise<PackedArchive> {
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

  let bytes = 0;
  async function* archive(): AsyncGenerator<Buffer> {
    yield MAGIC;
    for (const rel of files) {
      const handle = await openRegularFile(root, rel, realRoot);
      try {
        const { size, mode } = await fileOf(handle, rel);
        bytes += size;
        // A file may have grown since it was measured.
        if (bytes > maxBytes) throw tooBig(bytes, files.length, maxBytes, globs);
        yield headerLine({ path: rel, size, mode });
        let read = 0;
        if (size > 0) {
          for await (const chunk of handle.createReadStream({ start: 0, end: size - 1, autoClose: false })) {
            read += (chunk as Buffer).length;
            yield chunk as Buffer;
          }
        }
        // The header promised `size` bytes: a file cut short while packing would shift every later one.
        if (read !== size) throw new ArtifactError(`artifact ${JSON.stringify(rel)} changed while it was packed`);
      } finally {
        await handle.close();
      }
    }
    yield headerLine({ end: true, files: files.length, bytes });
  }
  await pipeline(Readable.from(archive()), createGzip(), createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
  return { file: dest, files, bytes, size: (await stat(dest)).size };
}

/**
 * Restores the archive at `file` into `workdir` (the checkout of a stage
 * that needs the producing stage). Two streamed passes: the first reads
 * the whole archive and checks every entry against the tree, the second
 * writes; so a refused archive leaves the checkout as it was, and no
 * archive is ever in memory whole.
 */
export async function unpackArtifacts(file: string, workdir: string, opts: { maxBytes?: number } = {}): Promise<string[]> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_ARTIFACT_BYTES;
  // Resolved once, so a checkout under a symlinked directory (macOS /tmp) is fine; below it, no symlink is.
  const root = await realpath(workdir);
  const entries = await readArchive(file, maxBytes, root, async (entry, body) => {
    await prepareTarget(root, entry.path, false);
    for await (const chunk of body) void chunk;
  });
  refuseConflicts(entries);
  await readArchive(file, maxBytes, root, async (entry, body) => {
    // Checked again while creating directories: the tree is the one the first pass saw unless something else writes to the checkout concurrently, which nothing should.
    const target = await prepareTarget(root, entry.path, true);
    await writeByRename(target, entry, body);
  });
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
 * Opens one file of the checkout, refusing anything that is not a regular
 * file inside it. The check is on the file as opened (the kernel's own name
 * for the descriptor), so no folder on the way swapped for a link since the
 * walk, nor a checkout swapped whole, can make the worker read a byte from
 * outside: packing runs with the worker's rights, not the step user's.
 */
async function openRegularFile(root: string, rel: string, realRoot: string): Promise<FileHandle> {
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
    return handle;
  } catch (err) {
    await handle.close();
    throw err;
  }
}

async function fileOf(handle: FileHandle, rel: string): Promise<{ size: number; mode: number }> {
  const st = await handle.stat();
  if (!st.isFile()) throw new ArtifactError(`artifact ${JSON.stringify(rel)} is no longer a regular file`);
  return { size: st.size, mode: st.mode & 0o777 };
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

function malformed(why: string): ArtifactError {
  return new ArtifactError(`malformed artifact archive: ${why}`);
}

/**
 * Reads the archive at `file` through gunzip, validating as it goes, and
 * hands each entry's body to `onEntry` as a stream of chunks (which it must
 * consume). Answers the entries once the end marker is checked.
 */
async function readArchive(file: string, maxBytes: number, root: string, onEntry: (entry: EntryHeader, body: AsyncIterable<Buffer>) => Promise<void>): Promise<EntryHeader[]> {
  const gunzip = createGunzip();
  // A read or inflate error ends the iteration below with that error.
  pipeline(createReadStream(file), gunzip).catch(() => {});
  const reader = new ChunkReader(gunzip[Symbol.asyncIterator]());
  try {
    return await parseEntries(reader, maxBytes, root, onEntry);
  } catch (err) {
    if (err instanceof ArtifactError) throw err;
    throw malformed((err as Error).message);
  } finally {
    gunzip.destroy();
  }
}

async function parseEntries(reader: ChunkReader, maxBytes: number, root: string, onEntry: (entry: EntryHeader, body: AsyncIterable<Buffer>) => Promise<void>): Promise<EntryHeader[]> {
  const magic = await reader.line(MAGIC.length).catch(() => null);
  if (magic === null || `${magic}\n` !== MAGIC.toString()) throw malformed('not a Forgeline artifact archive');
  const entries: EntryHeader[] = [];
  let total = 0;
  for (;;) {
    const headerAt = reader.position;
    // Headers count towards the inflated bound: a stream of endless headers is a gzip bomb too.
    if (headerAt > maxBytes + HEADER_ALLOWANCE) throw new ArtifactError(`artifact archive over the size limit: more than ${maxBytes} bytes uncompressed (FORGELINE_ARTIFACT_MAX_BYTES)`);
    const text = await reader.line(MAX_HEADER_BYTES);
    if (text === null) throw malformed(`truncated after ${entries.length} files (no end marker)`);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(text);
    } catch {
      throw malformed(`unreadable header at byte ${headerAt}`);
    }
    if (typeof header !== 'object' || header === null) throw malformed(`unreadable header at byte ${headerAt}`);
    if (header.end === true) {
      if (header.files !== entries.length || header.bytes !== total) throw malformed(`end marker says ${header.files} files and ${header.bytes} bytes, the archive holds ${entries.length} and ${total}`);
      if (!(await reader.atEnd())) throw malformed('data after the end marker');
      return entries;
    }
    const { path: rel, size, mode } = header;
    if (typeof rel !== 'string') throw malformed(`header at byte ${headerAt} has no path`);
    if (!Number.isSafeInteger(size) || (size as number) < 0) throw malformed(`bad size for ${JSON.stringify(rel)}`);
    if (!Number.isInteger(mode) || (mode as number) < 0 || (mode as number) > 0o777) throw malformed(`bad mode for ${JSON.stringify(rel)}`);
    const why = unsafePath(root, rel);
    if (why) throw new ArtifactError(`refusing artifact path ${JSON.stringify(rel)}: ${why}`);
    total += size as number;
    if (total > maxBytes) throw new ArtifactError(`artifact archive over the size limit: more than ${maxBytes} bytes uncompressed (FORGELINE_ARTIFACT_MAX_BYTES)`);
    const entry = { path: rel, size: size as number, mode: mode as number };
    entries.push(entry);
    await onEntry(entry, reader.take(entry.size, (got) => malformed(`truncated: ${JSON.stringify(rel)} has ${got} of its ${size} bytes`)));
  }
}

/** Lines and exact byte counts over a stream of chunks, copying only what a line spans. */
class ChunkReader {
  private buffered: Buffer = Buffer.alloc(0);
  private ended = false;
  /** Bytes consumed so far. */
  position = 0;

  private readonly chunks: AsyncIterator<Buffer>;

  constructor(chunks: AsyncIterator<Buffer>) {
    this.chunks = chunks;
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.chunks.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, next.value]) : next.value;
    return true;
  }

  /** The next line without its newline; null at the end of the stream. */
  async line(max: number): Promise<string | null> {
    for (;;) {
      const newline = this.buffered.indexOf(0x0a);
      if (newline >= 0) {
        if (newline > max) throw malformed(`header at byte ${this.position} is too long`);
        const text = this.buffered.toString('utf8', 0, newline);
        this.consume(newline + 1);
        return text;
      }
      if (this.buffered.length > max) throw malformed(`header at byte ${this.position} is too long`);
      if (!(await this.fill())) return null;
    }
  }

  /** Exactly `size` bytes, as they arrive; `short(got)` is thrown when the stream ends first. */
  async *take(size: number, short: (got: number) => Error): AsyncGenerator<Buffer> {
    let left = size;
    while (left > 0) {
      if (!this.buffered.length && !(await this.fill())) throw short(size - left);
      const chunk = this.buffered.subarray(0, Math.min(left, this.buffered.length));
      this.consume(chunk.length);
      left -= chunk.length;
      yield chunk;
    }
  }

  async atEnd(): Promise<boolean> {
    return !this.buffered.length && !(await this.fill());
  }

  private consume(n: number): void {
    this.buffered = this.buffered.subarray(n);
    this.position += n;
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
function refuseConflicts(entries: EntryHeader[]): void {
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
async function writeByRename(target: string, entry: EntryHeader, body: AsyncIterable<Buffer>): Promise<void> {
  const temp = path.join(path.dirname(target), `.forgeline-artifact-${randomUUID()}.tmp`);
  const handle = await open(temp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    try {
      for await (const chunk of body) await handle.write(chunk);
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

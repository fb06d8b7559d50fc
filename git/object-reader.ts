import path from 'node:path';
import { gitInvocation } from './run-git.ts';
import { serveThrough, type Served } from './spawner.ts';

export interface GitObject {
  type: string;
  content: Buffer;
}

interface Reader {
  served: Served;
  /** Answers awaited, in the order their requests were written. */
  waiting: Array<{ resolve: (o: GitObject | null) => void; reject: (e: Error) => void }>;
  buffered: Buffer;
  idle?: NodeJS.Timeout;
}

const IDLE_MS = 60_000;
const MAX_READERS = 16;
const readers = new Map<string, Reader>();

class ReaderEnded extends Error {
  constructor(gitDir: string) { super(`git cat-file --batch in ${gitDir} ended`); }
}

/** The request the next answer is for; once none is awaited, the reader no longer keeps the process alive. */
function answer(reader: Reader): Reader['waiting'][number] | undefined {
  const next = reader.waiting.shift();
  if (!reader.waiting.length) reader.served.busy(false);
  return next;
}

/** Takes every whole answer off the front of the reader's output. */
function parse(reader: Reader): void {
  for (;;) {
    const eol = reader.buffered.indexOf(10);
    if (eol < 0) return;
    const header = reader.buffered.subarray(0, eol).toString('utf8');
    const [, type, size] = header.split(' ');
    if (size === undefined || !/^\d+$/.test(size)) {
      // `<spec> missing` or `<spec> ambiguous`: no object.
      reader.buffered = reader.buffered.subarray(eol + 1);
      answer(reader)?.resolve(null);
      continue;
    }
    const end = eol + 1 + Number(size);
    if (reader.buffered.length < end + 1) return;
    const content = Buffer.from(reader.buffered.subarray(eol + 1, end));
    reader.buffered = reader.buffered.subarray(end + 1);
    answer(reader)?.resolve({ type: type!, content });
  }
}

function open(gitDir: string): Reader {
  const known = readers.get(gitDir);
  if (known) {
    // Most recently used last: the first is the one to end when there are too many.
    readers.delete(gitDir);
    readers.set(gitDir, known);
    return known;
  }
  if (readers.size >= MAX_READERS) close(readers.keys().next().value!);
  // By absolute path, not as its working directory: a mirror removed and made again at the
  // same place is read where it is now, not in the directory the reader started in.
  const command = gitInvocation([`--git-dir=${path.resolve(gitDir)}`, 'cat-file', '--batch']);
  const reader: Reader = { waiting: [], buffered: Buffer.alloc(0), served: undefined as unknown as Served };
  reader.served = serveThrough('git', command.args, { env: command.env }, (chunk) => {
    reader.buffered = reader.buffered.length ? Buffer.concat([reader.buffered, chunk]) : chunk;
    parse(reader);
  });
  void reader.served.exited.then(() => {
    if (readers.get(gitDir) === reader) readers.delete(gitDir);
    clearTimeout(reader.idle);
    for (const w of reader.waiting.splice(0)) w.reject(new ReaderEnded(gitDir));
  });
  readers.set(gitDir, reader);
  return reader;
}

function close(gitDir: string): void {
  const reader = readers.get(gitDir);
  readers.delete(gitDir);
  reader?.served.end();
}

/**
 * One object of the repository at `gitDir` by git revision syntax
 * (`<sha>`, `<sha>:<path>`), or null when there is none. Read by a
 * `git cat-file --batch` kept per repository: the reads on the path of every
 * plan (the tree of .forgeline/, its files) cost a line written and read
 * back instead of a git process each (some 4 ms here). git looks again for
 * packs and loose objects when an object is not where it looked, so what a
 * fetch brought after the reader started is found. A reader unused for a
 * minute ends, and at most 16 are kept.
 */
export function readObject(gitDir: string, spec: string): Promise<GitObject | null> {
  if (/[\n\r]/.test(spec)) return Promise.reject(new Error('an object name cannot hold a line break'));
  const reader = open(gitDir);
  clearTimeout(reader.idle);
  reader.idle = setTimeout(() => close(gitDir), IDLE_MS);
  reader.idle.unref();
  return new Promise<GitObject | null>((resolve, reject) => {
    reader.waiting.push({ resolve, reject });
    reader.served.busy(true);
    reader.served.write(`${spec}\n`);
  });
}

export interface TreeEntry {
  mode: string;
  type: 'blob' | 'tree' | 'commit';
  name: string;
  oid: string;
}

/** The entries of a tree object's content (`<mode> <name>\0<20-byte id>` each). */
export function treeEntries(content: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(32, at);
    const nul = content.indexOf(0, space);
    const mode = content.subarray(at, space).toString('ascii');
    const name = content.subarray(space + 1, nul).toString('utf8');
    const oid = content.subarray(nul + 1, nul + 21).toString('hex');
    // As ls-tree names them: directories are trees, submodules commits, files and symlinks blobs.
    entries.push({ mode, type: mode === '40000' ? 'tree' : mode === '160000' ? 'commit' : 'blob', name, oid });
    at = nul + 21;
  }
  return entries;
}

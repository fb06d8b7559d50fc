import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ArtifactError, packArtifacts, unpackArtifacts } from '../runners/artifacts.ts';
import { withArchiveFile } from '../runners/archive-file.ts';

/** Packs through a file, as a worker does, and answers the archive's bytes too. */
const pack = (dir: string, globs: string[], opts: { maxBytes?: number } = {}) =>
  withArchiveFile(async (file) => ({ ...(await packArtifacts(dir, globs, file, opts)), archive: await readFile(file) }));
/** Unpacks bytes, written to a file first, as a worker does with what the blob store answers. */
const unpack = (archive: Buffer, dir: string, opts: { maxBytes?: number } = {}) =>
  withArchiveFile(async (file) => {
    await writeFile(file, archive);
    return unpackArtifacts(file, dir, opts);
  });

let root: string;
let work: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'forgeline-artifacts-'));
  work = path.join(root, 'work');
  outside = path.join(root, 'outside');
  await mkdir(work);
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), 'secret');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(dir: string, rel: string, content: string | Uint8Array, mode = 0o644): Promise<void> {
  const file = path.join(dir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, content);
  await chmod(file, mode);
}

/** Every entry under `dir`, symlinks not followed, with what identifies its content. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for (const entry of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${entry.name}` : entry.name;
      const abs = path.join(dir, r);
      const st = await lstat(abs);
      if (entry.isSymbolicLink()) out[r] = `link:${await readlink(abs)}`;
      else if (entry.isDirectory()) {
        out[r] = 'dir';
        await walk(r);
      } else out[r] = `file:${(st.mode & 0o777).toString(8)}:${createHash('sha256').update(await readFile(abs)).digest('hex')}`;
    }
  }
  await walk('');
  return out;
}

/** An archive in the documented format, written by hand so hostile ones can be made. */
function craft(entries: Array<{ path: string; data?: string | Buffer; mode?: number; size?: number }>, end: object | null = {}): Buffer {
  const chunks: Buffer[] = [Buffer.from('forgeline-artifacts/1\n')];
  let bytes = 0;
  for (const e of entries) {
    const data = Buffer.from(e.data ?? 'x');
    bytes += data.length;
    chunks.push(Buffer.from(`${JSON.stringify({ path: e.path, size: e.size ?? data.length, mode: e.mode ?? 0o644 })}\n`), data);
  }
  if (end) chunks.push(Buffer.from(`${JSON.stringify({ end: true, files: entries.length, bytes, ...end })}\n`));
  return gzipSync(Buffer.concat(chunks));
}

async function refused(archive: Buffer, message: string | RegExp): Promise<void> {
  const before = await snapshot(root);
  const err = await unpack(archive, work).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ArtifactError);
  expect((err as Error).message).toMatch(message);
  // Nothing written anywhere: not outside the checkout, and not in it either.
  expect(await snapshot(root)).toEqual(before);
}

describe('packArtifacts and unpackArtifacts', () => {
  it('round-trips nested directories, dotfiles, modes and binary content, skipping .git', async () => {
    const binary = Buffer.concat([Buffer.from([0, 10, 13, 255, 0]), randomBytes(4096)]);
    await put(work, 'dist/a/b/c.js', 'deep');
    await put(work, 'dist/.env.example', 'A=1\n');
    await put(work, '.hidden/x', 'hidden');
    await put(work, 'bin/run.sh', '#!/bin/sh\necho hi\n', 0o755);
    await put(work, 'dist/blob.bin', binary);
    await put(work, 'dist/empty', '');
    await put(work, 'dist/private', 'p', 0o600);
    await put(work, '.git/HEAD', 'ref: refs/heads/main\n');
    await put(work, 'vendor/sub/.git', 'gitdir: ../.git/modules/sub\n');

    const packed = await pack(work, ['**']);
    expect(packed.files).toEqual(['.hidden/x', 'bin/run.sh', 'dist/.env.example', 'dist/a/b/c.js', 'dist/blob.bin', 'dist/empty', 'dist/private']);
    expect(packed.bytes).toBe(6 + 18 + 4 + 4 + binary.length + 0 + 1);

    const target = path.join(root, 'target');
    await mkdir(target);
    expect(await unpack(packed.archive, target)).toEqual(packed.files);
    const expected = await snapshot(work);
    // .git is not packed, so neither is vendor/, which holds nothing else.
    for (const key of Object.keys(expected)) if (key.split('/').includes('.git') || key.startsWith('vendor')) delete expected[key];
    expect(await snapshot(target)).toEqual(expected);
    expect((await stat(path.join(target, 'bin/run.sh'))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(target, 'dist/blob.bin'))).toEqual(binary);
  });

  it('packs the same tree to the same bytes', async () => {
    // Created in opposite orders, so directory order cannot make them agree by chance.
    const names = ['dist/a', 'dist/b', 'dist/c/d', 'dist/c/e', 'dist/f'];
    const other = path.join(root, 'other');
    for (const n of names) await put(work, n, n);
    for (const n of [...names].reverse()) await put(other, n, n);
    const one = await pack(work, ['dist/**']);
    const two = await pack(other, ['dist/**']);
    expect(one.files).toEqual(names);
    expect(one.archive).toEqual(two.archive);
    expect((await pack(work, ['dist/**'])).archive).toEqual(one.archive);
  });

  it('applies globs relative to the workdir, the last matching pattern deciding', async () => {
    for (const f of ['dist/app.js', 'dist/app.js.map', 'dist/keep.map', 'dist/sub/x.js', 'dist/sub/x.js.map', 'src/app.ts', 'dist.txt']) await put(work, f, f);
    const packed = await pack(work, ['dist/**', '!dist/**/*.map', 'dist/keep.map']);
    expect(packed.files).toEqual(['dist/app.js', 'dist/keep.map', 'dist/sub/x.js']);
    expect((await pack(work, ['*.txt'])).files).toEqual(['dist.txt']);
    expect((await pack(work, ['!dist/**'])).files).toEqual([]);
  });

  it('neither follows nor packs symlinks, nor special files', async () => {
    await put(work, 'dist/real.js', 'real');
    await symlink(path.join(outside, 'secret.txt'), path.join(work, 'dist/secret-link'));
    await symlink(outside, path.join(work, 'dist/outside-dir'));
    await symlink('real.js', path.join(work, 'dist/inside-link'));
    execFileSync('mkfifo', [path.join(work, 'dist/fifo')]);
    const packed = await pack(work, ['**']);
    expect(packed.files).toEqual(['dist/real.js']);
    expect(gunzipSync(packed.archive).toString('latin1')).not.toContain('secret');
  });

  it('refuses more than maxBytes, saying which limit and how much', async () => {
    await put(work, 'dist/a', '123456');
    await put(work, 'dist/b', '789012');
    const err = await pack(work, ['dist/**'], { maxBytes: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArtifactError);
    expect((err as Error).message).toMatch(/12 bytes in 2 files/);
    expect((err as Error).message).toMatch(/FORGELINE_ARTIFACT_MAX_BYTES\) is 10 bytes/);
    expect((err as Error).message).toMatch(/narrow the globs/);
    expect((await pack(work, ['dist/**'], { maxBytes: 12 })).bytes).toBe(12);
    await expect(unpack((await pack(work, ['dist/**'])).archive, path.join(root, 'outside'), { maxBytes: 10 })).rejects.toThrow(ArtifactError);
  });

  it('makes an empty archive when nothing matches', async () => {
    await put(work, 'src/a.ts', 'a');
    for (const globs of [['dist/**'], []]) {
      const packed = await pack(work, globs);
      expect(packed).toMatchObject({ files: [], bytes: 0 });
      const target = path.join(root, `empty-${globs.length}`);
      await mkdir(target);
      expect(await unpack(packed.archive, target)).toEqual([]);
      expect(await readdir(target)).toEqual([]);
    }
  });

  it('replaces an existing file by rename, never writing through a hard link', async () => {
    await mkdir(path.join(work, 'dist'));
    await link(path.join(outside, 'secret.txt'), path.join(work, 'dist/app.js'));
    expect(await unpack(craft([{ path: 'dist/app.js', data: 'built', mode: 0o755 }]), work)).toEqual(['dist/app.js']);
    expect(await readFile(path.join(work, 'dist/app.js'), 'utf8')).toBe('built');
    expect((await stat(path.join(work, 'dist/app.js'))).mode & 0o777).toBe(0o755);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect((await readdir(path.join(work, 'dist')))).toEqual(['app.js']);
  });
});

describe('unpackArtifacts refuses hostile archives', () => {
  it('refuses an absolute path', async () => {
    const abs = path.join(outside, 'pwned');
    await refused(craft([{ path: abs }]), JSON.stringify(abs));
    await refused(craft([{ path: '/etc/forgeline-pwned' }]), /is absolute/);
  });

  it('refuses .. segments, wherever they are', async () => {
    await refused(craft([{ path: '../x' }]), /"\.\.\/x".*"\.\." segment/);
    await refused(craft([{ path: 'a/../../x' }]), /"a\/\.\.\/\.\.\/x"/);
    await refused(craft([{ path: 'a/..' }]), /"\.\." segment/);
    await refused(craft([{ path: '../outside/secret.txt', data: 'evil' }]), /secret\.txt/);
  });

  it('refuses a NUL byte, non-canonical paths and .git', async () => {
    await refused(craft([{ path: 'a\0b' }]), /"a\\u0000b".*NUL/);
    await refused(craft([{ path: 'dist/x\0/../../../x' }]), /NUL/);
    for (const p of ['', './x', 'a//b', 'a/', 'a/./b']) await refused(craft([{ path: p }]), /refusing artifact path/);
    await refused(craft([{ path: '.git/hooks/post-checkout', mode: 0o755 }]), /\.git/);
    await refused(craft([{ path: 'sub/.git/config' }]), /\.git/);
  });

  it('writes nothing when any entry is refused, even one after good ones', async () => {
    await refused(craft([{ path: 'ok.txt' }, { path: 'dist/ok.js' }, { path: '../x' }]), /"\.\.\/x"/);
    await refused(craft([{ path: 'ok.txt' }, { path: 'ok.txt' }]), /appears twice/);
    await refused(craft([{ path: 'a' }, { path: 'a/b' }]), /both a file and a directory/);
  });

  it('does not follow a symlink planted in the target directory', async () => {
    await symlink(outside, path.join(work, 'dist'));
    await refused(craft([{ path: 'ok.txt' }, { path: 'dist/pwned', data: 'evil' }]), /"dist\/pwned".*"dist".*symbolic link/);
    await rm(path.join(work, 'dist'));

    await mkdir(path.join(work, 'deep/er'), { recursive: true });
    await symlink(outside, path.join(work, 'deep/er/link'));
    await refused(craft([{ path: 'deep/er/link/sub/pwned' }]), /"deep\/er\/link"/);

    await mkdir(path.join(work, 'dist'));
    await symlink(path.join(outside, 'secret.txt'), path.join(work, 'dist/app.js'));
    await refused(craft([{ path: 'dist/app.js', data: 'evil' }]), /"dist\/app\.js".*symbolic link/);
    await symlink(path.join(outside, 'nothing-yet'), path.join(work, 'dist/dangling'));
    await refused(craft([{ path: 'dist/dangling', data: 'evil' }]), /symbolic link/);

    // Even a symlink that stays inside is refused: the walk does not try to prove where links lead.
    await mkdir(path.join(work, 'real'));
    await symlink('real', path.join(work, 'alias'));
    await refused(craft([{ path: 'alias/x' }]), /symbolic link/);
  });

  it('refuses to replace a directory or write under a file', async () => {
    await mkdir(path.join(work, 'dist/app.js'), { recursive: true });
    await refused(craft([{ path: 'dist/app.js' }]), /not a regular file/);
    await put(work, 'file', 'f');
    await refused(craft([{ path: 'file/x' }]), /"file" in the working directory is not a directory/);
  });

  it('refuses truncated and malformed archives', async () => {
    await put(work, 'dist/a', randomBytes(3000));
    await put(work, 'dist/b', 'bbb');
    const { archive } = await pack(work, ['dist/**']);
    const inner = gunzipSync(archive);
    const target = path.join(root, 'target');
    await mkdir(target);
    const before = await snapshot(root);
    const cases: Array<[Buffer, RegExp]> = [
      [archive.subarray(0, archive.length >> 1), /malformed/],
      [archive.subarray(0, archive.length - 4), /malformed/],
      [Buffer.alloc(0), /malformed/],
      [Buffer.from('not gzip at all'), /malformed/],
      [gzipSync(Buffer.from('PK\x03\x04')), /not a Forgeline artifact archive/],
      [gzipSync(inner.subarray(0, inner.length - 10)), /truncated|end marker/],
      [gzipSync(inner.subarray(0, inner.indexOf('{"end"'))), /truncated after 2 files/],
      [gzipSync(inner.subarray(0, 3020)), /truncated/],
      [gzipSync(Buffer.concat([inner, Buffer.from('extra')])), /after the end marker/],
      [craft([{ path: 'a', data: 'abc', size: 100 }], null), /truncated: "a" has/],
      [craft([{ path: 'a', data: 'abc' }], { files: 2 }), /end marker says 2 files/],
      [craft([{ path: 'a', mode: 0o4755 }]), /bad mode/],
      [craft([{ path: 'a', size: -1 }]), /bad size/],
      [gzipSync(Buffer.from('forgeline-artifacts/1\n{"path":\n')), /unreadable header/],
      [gzipSync(Buffer.from('forgeline-artifacts/1\n{"size":1,"mode":420}\nx')), /no path/],
    ];
    for (const [bad, message] of cases) {
      const err = await unpack(bad, target).catch((e: unknown) => e);
      expect(err, message.source).toBeInstanceOf(ArtifactError);
      expect((err as Error).message).toMatch(message);
    }
    expect(await snapshot(root)).toEqual(before);
  });
});

// Segments of ordinary and awkward characters; "." and ".." and ".git" are not file names a tree can hold as files to pack.
const segment = fc
  .string({ unit: fc.constantFrom('a', 'b', 'Z', '0', '.', '-', '_', ' ', 'é', '(', '[', '*', '#', '!'), minLength: 1, maxLength: 6 })
  .filter((s) => s !== '.' && s !== '..' && s !== '.git');
const tree = fc
  .uniqueArray(
    fc.record({
      path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
      data: fc.uint8Array({ maxLength: 3000 }),
      mode: fc.constantFrom(0o644, 0o755, 0o600, 0o444),
    }),
    { selector: (f) => f.path, maxLength: 12 },
  )
  // A name cannot be both a file and a directory: keep the first of two that clash.
  .map((files) => {
    const kept: typeof files = [];
    for (const f of files) if (!kept.some((k) => f.path.startsWith(`${k.path}/`) || k.path.startsWith(`${f.path}/`))) kept.push(f);
    return kept;
  });

describe('round trip property', () => {
  it('reproduces every file of a random tree byte for byte, with its mode', async () => {
    await fc.assert(
      fc.asyncProperty(tree, async (files) => {
        const src = await mkdtemp(path.join(root, 'src-'));
        const dst = await mkdtemp(path.join(root, 'dst-'));
        try {
          for (const f of files) await put(src, f.path, f.data, f.mode);
          const packed = await pack(src, ['**']);
          expect([...packed.files].sort()).toEqual(files.map((f) => f.path).sort());
          expect(packed.bytes).toBe(files.reduce((n, f) => n + f.data.length, 0));
          expect(await unpack(packed.archive, dst)).toEqual(packed.files);
          expect(await snapshot(dst)).toEqual(await snapshot(src));
        } finally {
          await rm(src, { recursive: true, force: true });
          await rm(dst, { recursive: true, force: true });
        }
      }),
      { numRuns: 60 },
    );
  });
});

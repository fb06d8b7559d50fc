import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureCommit, listFilesAt } from '../git/index.ts';
import { readObject, treeEntries } from '../git/object-reader.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';

const readerModule = fileURLToPath(new URL('../git/object-reader.ts', import.meta.url));

describe('the long-lived object reader of a repository', () => {
  let scratch: string;
  let repo: TestRepo;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-reader-'));
    repo = await createTestRepo();
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('lists a tree as ls-tree does: files, symlinks, directories and their ids', async () => {
    const mirror = path.join(scratch, 'tree.git');
    const sha = await repo.commit({ '.forgeline/ci.yml': 'on: { push: {} }\n', '.forgeline/lib/x.yml': 'x', '.forgeline/run.sh': '#!/bin/sh\n' });
    await execa('ln', ['-sf', 'ci.yml', path.join(repo.work, '.forgeline', 'alias.yml')]);
    const withLink = await repo.commit({}, 'symlink');
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, withLink);
    const tree = await readObject(mirror, `${withLink}:.forgeline`);
    expect(tree?.type).toBe('tree');
    const lsTree = (await execa('git', ['ls-tree', `${withLink}:.forgeline`], { cwd: mirror })).stdout.split('\n').map((line) => {
      const [meta, name] = line.split('\t') as [string, string];
      const [mode, type, oid] = meta.split(' ') as [string, string, string];
      return { mode: mode.replace(/^0+/, ''), type, name, oid };
    });
    expect(treeEntries(tree!.content)).toEqual(lsTree);
    expect((await listFilesAt(mirror, withLink, '.forgeline', /\.ya?ml$/)).map((f) => f.path).sort()).toEqual(['.forgeline/alias.yml', '.forgeline/ci.yml']);
    // Not there: null, and an empty listing, as before.
    expect(await readObject(mirror, `${sha}:nowhere`)).toBeNull();
    expect(await readObject(mirror, 'f'.repeat(40))).toBeNull();
    expect(await listFilesAt(mirror, 'f'.repeat(40), '.forgeline', /\.ya?ml$/)).toEqual([]);
    await expect(readObject(mirror, `${sha}\n${sha}`)).rejects.toThrow(/line break/);
  });

  it('finds what a fetch brought after it started, loose or packed, and a mirror made again at the same place', async () => {
    const mirror = path.join(scratch, 'later.git');
    const first = await repo.commit({ 'later.txt': 'first' });
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, first);
    expect((await readObject(mirror, `${first}:later.txt`))?.content.toString()).toBe('first');
    const second = await repo.commit({ 'later.txt': 'second' });
    expect(await readObject(mirror, `${second}:later.txt`)).toBeNull();
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, second);
    expect((await readObject(mirror, `${second}:later.txt`))?.content.toString()).toBe('second');
    // Everything moved into a new pack, the loose files gone.
    await execa('git', ['repack', '-a', '-d', '-q'], { cwd: mirror });
    await execa('git', ['prune-packed'], { cwd: mirror });
    const third = await repo.commit({ 'later.txt': 'third' });
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, third);
    await execa('git', ['repack', '-a', '-d', '-q'], { cwd: mirror });
    await execa('git', ['prune-packed'], { cwd: mirror });
    expect((await readObject(mirror, `${third}:later.txt`))?.content.toString()).toBe('third');
    expect((await readObject(mirror, `${first}:later.txt`))?.content.toString()).toBe('first');
    // Removed and fetched again from scratch.
    await rm(mirror, { recursive: true, force: true });
    const fourth = await repo.commit({ 'later.txt': 'fourth' });
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, fourth);
    expect((await readObject(mirror, `${fourth}:later.txt`))?.content.toString()).toBe('fourth');
  });

  it('answers reads written together in order, and never keeps its process alive once they are answered', async () => {
    const mirror = path.join(scratch, 'many.git');
    const shas: string[] = [];
    for (let i = 0; i < 5; i++) shas.push(await repo.commit({ 'many.txt': `v${i}` }));
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, shas[4]!);
    const read = await Promise.all(shas.map((sha) => readObject(mirror, `${sha}:many.txt`)));
    expect(read.map((o) => o?.content.toString())).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    const script = path.join(scratch, 'reads.ts');
    await writeFile(script, `import { readObject } from ${JSON.stringify(readerModule)};\n` +
      `console.log((await readObject(${JSON.stringify(mirror)}, ${JSON.stringify(`${shas[2]}:many.txt`)}))?.content.toString());\n`);
    const done = await execa(process.execPath, [script], { timeout: 10_000 });
    expect(done.stdout).toBe('v2');
  });
});

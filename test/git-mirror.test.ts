import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCheckout, ensureCommit } from '../git/index.ts';
import { createTestRepo, type TestRepo } from './helpers/git-repo.ts';

describe('mirror and checkout', () => {
  let scratch: string;
  let repo: TestRepo;
  const gone = 'file:///nonexistent/forgeline/repo.git';

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-mirror-'));
    repo = await createTestRepo();
  });
  afterAll(() => rm(scratch, { recursive: true, force: true }));

  it('fetches a commit by its id once, then knows it without asking the forge, also once git packed its refs', async () => {
    const mirror = path.join(scratch, 'once.git');
    const sha = await repo.commit({ 'a.txt': 'a' });
    expect(await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, sha)).toBe(sha);
    // The clone URL no longer answers: any fetch would fail.
    expect(await ensureCommit(mirror, { cloneUrl: gone }, sha)).toBe(sha);
    await execa('git', ['pack-refs', '--all'], { cwd: mirror });
    expect(await readFile(path.join(mirror, 'packed-refs'), 'utf8')).toContain(`refs/forgeline/${sha}`);
    expect(await ensureCommit(mirror, { cloneUrl: gone }, sha)).toBe(sha);
    // A commit it never fetched is fetched, and fails clearly where it cannot be.
    const other = await repo.commit({ 'b.txt': 'b' });
    await expect(ensureCommit(mirror, { cloneUrl: gone }, other)).rejects.toThrow(/git fetch failed.*does not appear to be a git repository/);
  });

  it('leaves git\'s housekeeping until after the fetch: the commit is there at once, gc runs a moment later', async () => {
    const mirror = path.join(scratch, 'housekeeping.git');
    await execa('git', ['init', '--quiet', '--bare', mirror]);
    // gc --auto estimates the loose objects from those in objects/17/: two there with gc.auto 1
    // call for a gc, run in the foreground.
    await execa('git', ['config', 'gc.auto', '1'], { cwd: mirror });
    await execa('git', ['config', 'gc.autoDetach', 'false'], { cwd: mirror });
    for (let n = 0, found = 0; found < 2; n++) {
      if (!createHash('sha1').update(`blob ${String(n).length}\0${n}`).digest('hex').startsWith('17')) continue;
      await execa('git', ['hash-object', '-w', '--stdin'], { cwd: mirror, input: String(n) });
      found++;
    }
    const sha = await repo.commit({ 'h.txt': 'housekeeping' });
    expect(await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, sha)).toBe(sha);
    const packed = async () => Number(/^in-pack: (\d+)$/m.exec((await execa('git', ['count-objects', '-v'], { cwd: mirror })).stdout)![1]);
    expect(await packed()).toBe(0);
    for (let i = 0; i < 100 && (await packed()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await packed()).toBeGreaterThan(0);
    expect((await execa('git', ['cat-file', '-t', sha], { cwd: mirror })).stdout).toBe('commit');
  });

  it('resolves an abbreviated id (Bitbucket Cloud) by fetching the branches', async () => {
    const mirror = path.join(scratch, 'short.git');
    const sha = await repo.commit({ 'c.txt': 'c' });
    expect(await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, sha.slice(0, 12))).toBe(sha);
  });

  it('checks out the exact commit, detached and clean, borrowing the mirror\'s objects without writing to them', async () => {
    const mirror = path.join(scratch, 'co.git');
    const first = await repo.commit({ 'd.txt': 'first', 'sub/e.sh': '#!/bin/sh\n' });
    const second = await repo.commit({ 'd.txt': 'second' });
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, second);
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, first);
    const dir = path.join(scratch, 'checkout');
    await createCheckout(mirror, first, dir);
    const g = (...args: string[]) => execa('git', args, { cwd: dir }).then((r) => r.stdout);
    expect(await readFile(path.join(dir, 'd.txt'), 'utf8')).toBe('first');
    expect(await g('rev-parse', 'HEAD')).toBe(first);
    expect(await g('symbolic-ref', '-q', 'HEAD').catch(() => 'detached')).toBe('detached');
    expect(await g('status', '--porcelain')).toBe('');
    expect(await g('log', '--format=%H', '-1')).toBe(first);
    // A commit made by a step lands in the checkout's own objects, never in the mirror's.
    const before = (await execa('git', ['count-objects', '-v'], { cwd: mirror })).stdout;
    await execa('git', ['-c', 'user.name=s', '-c', 'user.email=s@x', 'commit', '--quiet', '--allow-empty', '-m', 'step'], { cwd: dir });
    expect((await execa('git', ['count-objects', '-v'], { cwd: mirror })).stdout).toBe(before);
    // Made again over the same directory: the new commit, nothing left of the old tree.
    await createCheckout(mirror, second, dir);
    expect(await readFile(path.join(dir, 'd.txt'), 'utf8')).toBe('second');
    expect(await g('rev-parse', 'HEAD')).toBe(second);
  });

  it('lets processes sharing a data dir fetch the same commits into one new mirror at once', async () => {
    // `serve` and a `worker` on one data dir: each must end with every commit, fetched once between them.
    const shas: string[] = [];
    for (let i = 0; i < 8; i++) shas.push(await repo.commit({ 'race.txt': String(i) }, `race ${i}`, `race-${i}`));
    const mirror = path.join(scratch, 'shared-mirror.git');
    const script = path.join(scratch, 'fetch-all.ts');
    await writeFile(script, `import { ensureCommit } from ${JSON.stringify(fileURLToPath(new URL('../git/index.ts', import.meta.url)))};
const [mirror, url, ...shas] = process.argv.slice(2);
const got = await Promise.all(shas.map((sha) => ensureCommit(mirror, { cloneUrl: url }, sha).catch((err) => 'failed: ' + err.message)));
console.log(JSON.stringify(got));
process.exit(0);
`);
    const results = await Promise.all([0, 1, 2].map(() => execa(process.execPath, [script, mirror, repo.cloneUrl, ...shas])));
    for (const r of results) expect(JSON.parse(r.stdout)).toEqual(shas);
  });

  it('makes a fetch wait while another process holds the mirror, and takes over the lock of one that died', async () => {
    const mirror = path.join(scratch, 'locked.git');
    const first = await repo.commit({ 'lock.txt': 'first' }, 'lock 1');
    await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, first);
    const script = path.join(scratch, 'hold-lock.ts');
    await writeFile(script, `import { withFileLock } from ${JSON.stringify(fileURLToPath(new URL('../git/file-lock.ts', import.meta.url)))};
await withFileLock(process.argv[2] + '.fetch-lock', async () => {
  console.log('held');
  await new Promise((r) => setTimeout(r, 1500));
  console.log('released ' + Date.now());
});
`);
    const holder = execa(process.execPath, [script, mirror]);
    await new Promise<void>((resolve) => holder.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('held')) resolve(); }));
    // "<pid> <host/pid namespace>": the owner's pid, and where that pid can be asked about.
    const [holderPid, space] = (await readFile(`${mirror}.fetch-lock`, 'utf8')).trim().split(' ');
    expect(Number(holderPid)).toBe(holder.pid);
    const second = await repo.commit({ 'lock.txt': 'second' }, 'lock 2');
    expect(await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, second)).toBe(second);
    const fetchedAt = Date.now();
    const released = Number(/released (\d+)/.exec((await holder).stdout)![1]);
    expect(fetchedAt).toBeGreaterThanOrEqual(released);

    // A process killed while it held the lock leaves its file behind, naming a pid that is gone;
    // or naming this very process, restarted with the same pid (a container's pid 1).
    const dead = await execa(process.execPath, ['-e', 'console.log(process.pid)']);
    for (const [pid, name] of [[dead.stdout.trim(), 'third'], [String(process.pid), 'fourth']]) {
      await writeFile(`${mirror}.fetch-lock`, `${pid} ${space}\n`);
      const sha = await repo.commit({ 'lock.txt': name! }, `lock ${name}`);
      expect(await ensureCommit(mirror, { cloneUrl: repo.cloneUrl }, sha)).toBe(sha);
      expect(existsSync(`${mirror}.fetch-lock`)).toBe(false);
    }
  });
});

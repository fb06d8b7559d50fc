import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { git } from '../../git/index.ts';

export interface TestRepo {
  /** The bare repository standing in for the forge's. */
  bare: string;
  cloneUrl: string;
  work: string;
  /** Commits `files` on `branch` and pushes; answers the new sha. */
  commit(files: Record<string, string>, message?: string, branch?: string): Promise<string>;
}

const identity = ['user.name=Forgeline Test', 'user.email=test@forgeline.invalid'];

/** A real bare repository on disk with a working clone to commit from. */
export async function createTestRepo(): Promise<TestRepo> {
  const root = await mkdtemp(path.join(tmpdir(), 'forgeline-repo-'));
  const bare = path.join(root, 'origin.git');
  const work = path.join(root, 'work');
  await git(['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  await git(['init', '--quiet', '--initial-branch=main', work]);
  return {
    bare,
    cloneUrl: `file://${bare}`,
    work,
    async commit(files, message = 'change', branch = 'main') {
      await git(['checkout', '--quiet', '-B', branch], { cwd: work });
      for (const [file, content] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(work, file)), { recursive: true });
        await writeFile(path.join(work, file), content);
      }
      await git(['add', '-A'], { cwd: work });
      await git(['commit', '--quiet', '--allow-empty', '-m', message], { cwd: work, config: identity });
      await git(['push', '--quiet', '--force', bare, `HEAD:refs/heads/${branch}`], { cwd: work });
      return (await git(['rev-parse', 'HEAD'], { cwd: work })).trim();
    },
  };
}

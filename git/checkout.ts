import { rm } from 'node:fs/promises';
import path from 'node:path';
import { git } from './run-git.ts';

/**
 * A private working tree of `sha` at `dir`. Its .git is its own; the mirror's
 * objects are borrowed read-only through git alternates, so nothing a step
 * does in the checkout can write into the mirror.
 */
export async function createCheckout(mirror: string, sha: string, dir: string, opts: { independent?: boolean } = {}): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await git(['clone', '--quiet', '--shared', '--no-checkout', mirror, dir]);
  if (opts.independent) {
    // Independent (--run-as): the objects the build needs are copied in and the
    // link to the mirror is cut, so the step user needs no access to the mirror.
    // (clone --dissociate would keep only what its branches reach, not `sha`.)
    await git(['update-ref', 'refs/forgeline/build', sha], { cwd: dir });
    await git(['repack', '-a', '-d', '-q'], { cwd: dir });
    await rm(path.join(dir, '.git', 'objects', 'info', 'alternates'), { force: true });
  }
  await git(['checkout', '--quiet', '--detach', sha], { cwd: dir });
}

export async function removeCheckout(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

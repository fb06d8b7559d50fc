import { rm } from 'node:fs/promises';
import { git } from './run-git.ts';

/**
 * A private working tree of `sha` at `dir`. Its .git is its own; the mirror's
 * objects are borrowed read-only through git alternates, so nothing a step
 * does in the checkout can write into the mirror.
 */
export async function createCheckout(mirror: string, sha: string, dir: string, opts: { independent?: boolean } = {}): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  // Independent (--run-as): the objects are copied, so the step user needs no access to the mirror at all.
  await git(['clone', '--quiet', '--shared', '--no-checkout', ...(opts.independent ? ['--dissociate'] : []), mirror, dir]);
  await git(['checkout', '--quiet', '--detach', sha], { cwd: dir });
}

export async function removeCheckout(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

import { audit, newSecret, repos, withTransaction, type Pool, type SecretBox } from '../store/index.ts';
import { assertSecretGiven, NotFoundError } from '../scheduler/errors.ts';

/**
 * `repo rotate-secret`: adds a new secret while the old ones stay valid, so
 * deliveries signed either way pass until the forge uses the new one. With
 * `retireOld`, finishes a rotation: every secret but the newest stops working.
 */
export async function rotateSecret(deps: { pool: Pool; box: SecretBox }, repoIdOrName: string, opts: { retireOld: boolean; secret?: string }, actor: string) {
  assertSecretGiven(opts.secret, 'the new webhook secret');
  const repo = await repos.findRepo(deps.pool, repoIdOrName);
  if (!repo) throw new NotFoundError(`no repository ${repoIdOrName}`);
  return withTransaction(deps.pool, async (tx) => {
    if (opts.retireOld) {
      const retired = await repos.retireOlderSecrets(tx, repo.id);
      await audit(tx, { actor, action: 'repo.retire-secrets', reason: `${repo.name}: ${retired} retired` });
      return { id: repo.id, retired };
    }
    const secret = opts.secret ?? newSecret();
    await repos.addSecret(tx, deps.box, repo.id, secret);
    await audit(tx, { actor, action: 'repo.rotate-secret', reason: repo.name });
    return { id: repo.id, secret };
  });
}

export async function removeRepository(deps: { pool: Pool }, repoIdOrName: string, actor: string): Promise<{ id: string; name: string }> {
  const repo = await repos.findRepo(deps.pool, repoIdOrName);
  if (!repo) throw new NotFoundError(`no repository ${repoIdOrName}`);
  await withTransaction(deps.pool, async (tx) => {
    await repos.removeRepo(tx, repo.id);
    await audit(tx, { actor, action: 'repo.remove', reason: repo.name });
  });
  return { id: repo.id, name: repo.name };
}

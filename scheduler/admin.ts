import { randomBytes } from 'node:crypto';
import { audit, environments, repos, secrets, tokens, withTransaction, type Pool, type SecretBox } from '../store/index.ts';
import { InputError, NotFoundError, onConflict } from './errors.ts';

export class AdminError extends InputError {}

async function repoOf(pool: Pool, idOrName: string) {
  const repo = await repos.findRepo(pool, idOrName);
  if (!repo) throw new NotFoundError(`no repository ${idOrName}`);
  return repo;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `forgeline secret set --repo R [--env E] NAME` (value on stdin): encrypted at rest, never shown again. */
export async function setSecret(deps: { pool: Pool; box: SecretBox }, input: { repo: string; environment?: string | null; name: string; value: string }, actor: string): Promise<{ repo: string; environment: string | null; name: string }> {
  if (!NAME.test(input.name)) throw new AdminError(`secret name ${input.name} must match ${NAME.source}`);
  if (!input.value) throw new AdminError('the secret value is empty: give it on standard input');
  const repo = await repoOf(deps.pool, input.repo);
  await withTransaction(deps.pool, async (tx) => {
    await secrets.setSecret(tx, deps.box, repo.id, input.environment ?? '', input.name, input.value);
    await audit(tx, { actor, action: 'secret.set', reason: `${repo.name}${input.environment ? `/${input.environment}` : ''} ${input.name}` });
  });
  return { repo: repo.name, environment: input.environment ?? null, name: input.name };
}

export async function listSecrets(pool: Pool, repo: string) {
  return secrets.listSecrets(pool, (await repoOf(pool, repo)).id);
}

export async function removeSecret(pool: Pool, input: { repo: string; environment?: string | null; name: string }, actor: string): Promise<boolean> {
  const repo = await repoOf(pool, input.repo);
  return withTransaction(pool, async (tx) => {
    const removed = await secrets.removeSecret(tx, repo.id, input.environment ?? '', input.name);
    if (removed) await audit(tx, { actor, action: 'secret.remove', reason: `${repo.name} ${input.name}` });
    return removed;
  });
}

/** `forgeline env set`: an environment's protection, kept on the server. */
export async function setEnvironment(pool: Pool, input: { repo: string; name: string; branches?: string[] | null; tags?: string[] | null; approval?: boolean; approvers?: string[] | null }, actor: string) {
  const repo = await repoOf(pool, input.repo);
  const env = { repoId: repo.id, name: input.name, branches: input.branches ?? null, tags: input.tags ?? null, approval: input.approval ?? false, approvers: input.approvers ?? null };
  await withTransaction(pool, async (tx) => {
    await environments.setEnvironment(tx, env);
    await audit(tx, { actor, action: 'env.set', reason: `${repo.name} ${input.name}` });
  });
  return { repo: repo.name, ...env };
}

export async function listEnvironments(pool: Pool, repo: string) {
  return environments.listEnvironments(pool, (await repoOf(pool, repo)).id);
}

/** `forgeline env remove`: the protection goes, and with it the environment's own secrets. */
export async function removeEnvironment(pool: Pool, input: { repo: string; name: string }, actor: string): Promise<boolean> {
  const repo = await repoOf(pool, input.repo);
  return withTransaction(pool, async (tx) => {
    const removed = await environments.removeEnvironment(tx, repo.id, input.name);
    if (removed) await audit(tx, { actor, action: 'env.remove', reason: `${repo.name} ${input.name}` });
    return removed;
  });
}

/** `forgeline token add NAME --role R`: the secret is shown once. */
export async function addToken(pool: Pool, name: string, role: string, actor: string): Promise<{ name: string; role: string; token: string }> {
  if (!tokens.ROLES.includes(role as tokens.Role)) throw new AdminError(`role must be one of ${tokens.ROLES.join(', ')}`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@-]*$/.test(name)) throw new AdminError(`token name ${name} may use letters, digits and _ . @ -`);
  const secret = `flt_${randomBytes(24).toString('base64url')}`;
  await onConflict(`a token named ${name} already exists: revoke it first, or choose another name`, () => withTransaction(pool, async (tx) => {
    await tokens.addToken(tx, name, role as tokens.Role, secret);
    await audit(tx, { actor, action: 'token.add', reason: `${name} (${role})` });
  }));
  return { name, role, token: secret };
}

export async function revokeToken(pool: Pool, name: string, actor: string): Promise<boolean> {
  return withTransaction(pool, async (tx) => {
    const revoked = await tokens.revokeToken(tx, name);
    if (revoked) await audit(tx, { actor, action: 'token.revoke', reason: name });
    return revoked;
  });
}

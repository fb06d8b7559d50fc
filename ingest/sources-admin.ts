import { audit, newHookId, newSecret, repos, sources, withTransaction, type Pool, type SecretBox } from '../store/index.ts';
import { AdminError } from '../scheduler/admin.ts';
import { validateCidrs } from './cidr.ts';
import { assertSecretGiven, ConflictError, NotFoundError, onConflict } from '../scheduler/errors.ts';
import { randomBytes } from 'node:crypto';

const AUTHS = ['hmac', 'standard-webhooks', 'bearer'];

export interface SourceInput {
  repo: string;
  name: string;
  auth: string;
  secret?: string;
  signatureHeader?: string;
  typeFrom?: string;
  idFrom?: string;
  allowCidrs?: string[];
}

/** `forgeline source add`: a generic webhook source of a repository with its own hook URL (docs/api.md, "Hooks"). */
export async function addSource(deps: { pool: Pool; box: SecretBox; publicUrl: string }, input: SourceInput, actor: string) {
  const repo = await repos.findRepo(deps.pool, input.repo);
  if (!repo) throw new NotFoundError(`no repository ${input.repo}`);
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(input.name)) throw new AdminError(`source name ${input.name} must match [a-z0-9][a-z0-9_-]*`);
  if (!AUTHS.includes(input.auth)) throw new AdminError(`--auth must be one of ${AUTHS.join(', ')}`);
  for (const spec of [input.typeFrom, input.idFrom]) {
    if (spec && !spec.startsWith('$.') && !/^[A-Za-z0-9-]+$/.test(spec)) throw new AdminError(`'${spec}' must be a header name or a $.json.path`);
  }
  if (input.allowCidrs?.length) validateCidrs(input.allowCidrs);
  assertSecretGiven(input.secret, 'the source\'s secret');
  if (await sources.findSource(deps.pool, repo.id, input.name)) throw new ConflictError(`${repo.name} already has a source ${input.name}`);
  // A Standard Webhooks secret is a base64 key, as its senders expect it.
  const secret = input.secret ?? (input.auth === 'standard-webhooks' ? `whsec_${randomBytes(24).toString('base64')}` : newSecret());
  const id = `s_${randomBytes(8).toString('hex')}`;
  const hookId = newHookId();
  await onConflict(`${repo.name} already has a source ${input.name}`, () => withTransaction(deps.pool, async (tx) => {
    await sources.insertSource(tx, deps.box, {
      id, repoId: repo.id, name: input.name, auth: input.auth as sources.Source['auth'], signatureHeader: input.signatureHeader?.toLowerCase() ?? null,
      typeFrom: input.typeFrom ?? null, idFrom: input.idFrom ?? null, hookId, allowCidrs: input.allowCidrs?.length ? input.allowCidrs : null, secret,
    });
    await audit(tx, { actor, action: 'source.add', reason: `${repo.name} ${input.name} (${input.auth})` });
  }));
  return { id, name: input.name, repo: repo.name, hookUrl: `${deps.publicUrl.replace(/\/+$/, '')}/hooks/${hookId}`, secret };
}

export async function removeSource(pool: Pool, repoName: string, name: string, actor: string): Promise<boolean> {
  const repo = await repos.findRepo(pool, repoName);
  const source = repo && (await sources.findSource(pool, repo.id, name));
  if (!source) return false;
  await withTransaction(pool, async (tx) => {
    await sources.removeSource(tx, source.id);
    await audit(tx, { actor, action: 'source.remove', reason: `${source.repo} ${name}` });
  });
  return true;
}

/** Rotation like a repository's: a new secret beside the old ones, then --retire-old. */
export async function rotateSourceSecret(deps: { pool: Pool; box: SecretBox }, repoName: string, name: string, opts: { retireOld: boolean }, actor: string) {
  const repo = await repos.findRepo(deps.pool, repoName);
  const source = repo && (await sources.findSource(deps.pool, repo.id, name));
  if (!source) throw new NotFoundError(`no source ${name} in ${repoName}`);
  return withTransaction(deps.pool, async (tx) => {
    if (opts.retireOld) {
      const retired = await sources.retireOlderSourceSecrets(tx, source.id);
      await audit(tx, { actor, action: 'source.retire-secrets', reason: `${source.repo} ${name}: ${retired}` });
      return { id: source.id, retired };
    }
    const secret = source.auth === 'standard-webhooks' ? `whsec_${randomBytes(24).toString('base64')}` : newSecret();
    await sources.addSourceSecret(tx, deps.box, source.id, secret);
    await audit(tx, { actor, action: 'source.rotate-secret', reason: `${source.repo} ${name}` });
    return { id: source.id, secret };
  });
}

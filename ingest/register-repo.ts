import { forgeNames, providerFor } from '../providers/index.ts';
import { audit, newHookId, newRepoId, newSecret, repos, withTransaction, type Pool, type SecretBox } from '../store/index.ts';
import { assertUrlAllowed, type UrlPolicy } from './allowed-urls.ts';
import { validateCidrs } from './cidr.ts';
import { assertSecretGiven, ConflictError, InputError, onConflict, UpstreamError } from '../scheduler/errors.ts';

export interface RepoRegistration {
  forge: string;
  name: string;
  cloneUrl?: string;
  apiUrl?: string;
  token?: string | null;
  secret?: string;
  forkPrs?: string;
  /** Also create (or update) the webhook on the forge through its API. */
  register?: boolean;
  /** GitHub App mode: stages are reported as check runs by this App. */
  app?: { appId: string; privateKey: string } | null;
  /** Only these source addresses may call the hook (403 and an audit entry otherwise). */
  allowCidrs?: string[];
}

export interface Registered {
  id: string;
  hookUrl: string;
  secret: string;
  /** With `register`: the forge's hook, and whether it was created or an existing one updated. */
  remoteHook?: { id: string; created: boolean };
}

const FORK_POLICIES = ['approve', 'run', 'ignore'];

/** Registers a repository (docs/cli.md `repo add`): its hook URL and a secret, random unless given. */
export async function registerRepo(
  deps: { pool: Pool; box: SecretBox; publicUrl: string; urls: UrlPolicy },
  input: RepoRegistration,
  actor: string,
): Promise<Registered> {
  const provider = providerFor(input.forge);
  if (!provider) throw new InputError(`unknown forge '${input.forge}': one of ${forgeNames().join(', ')}`);
  if (!/^[^/\s]+(\/[^/\s]+)+$/.test(input.name)) throw new InputError(`repository name '${input.name}' must be OWNER/REPO`);
  const forkPrs = input.forkPrs ?? 'approve';
  if (!FORK_POLICIES.includes(forkPrs)) throw new InputError(`--fork-prs must be one of ${FORK_POLICIES.join(', ')}`);
  if (input.allowCidrs?.length) validateCidrs(input.allowCidrs);
  assertSecretGiven(input.secret, 'the webhook secret');
  const apiUrl = (input.apiUrl ?? provider.credentials.defaultApiUrl).replace(/\/+$/, '');
  if (!apiUrl) throw new InputError(`${provider.name} has no public instance: give --api-url (the instance's URL)`);
  const cloneUrl = input.cloneUrl ?? provider.credentials.defaultCloneUrl(apiUrl, input.name);
  assertUrlAllowed(apiUrl, 'API URL', deps.urls);
  assertUrlAllowed(cloneUrl, 'clone URL', deps.urls);
  if (await repos.findRepoByName(deps.pool, provider.name, input.name)) {
    throw new ConflictError(`${provider.name} repository ${input.name} is already registered`);
  }
  const id = newRepoId();
  const hookId = newHookId();
  const secret = input.secret ?? newSecret();
  const hookUrl = `${deps.publicUrl.replace(/\/+$/, '')}/hooks/${hookId}`;
  // The forge first: when it refuses, nothing is registered and the error says why.
  let remoteHook: Registered['remoteHook'];
  if (input.register) {
    if (!input.token) throw new InputError('--register needs an API token (--token-env) with the right to manage webhooks');
    try {
      remoteHook = await provider.hooks.ensure({ name: input.name, apiUrl, token: input.token }, { url: hookUrl, secret });
    } catch (err) {
      throw new UpstreamError(`${provider.name} did not create the webhook: ${(err as Error).message}`);
    }
  }
  // A second registration of the same name that got past the look-up above loses here, on the unique key.
  await onConflict(`${provider.name} repository ${input.name} is already registered`, () => withTransaction(deps.pool, async (tx) => {
    await repos.insertRepo(tx, deps.box, { id, forge: provider.name, name: input.name, cloneUrl, apiUrl, token: input.token ?? null, hookId, forkPrs, secret });
    if (remoteHook) await repos.setRemoteHook(tx, id, remoteHook.id);
    if (input.allowCidrs?.length) await repos.setAllowCidrs(tx, id, input.allowCidrs);
    if (input.app) {
      if (!provider.checks) throw new InputError(`app mode (check runs) is not offered by ${provider.name}`);
      await repos.setGitHubApp(tx, deps.box, id, input.app.appId, input.app.privateKey);
    }
    await audit(tx, { actor, action: 'repo.add', reason: `${provider.name} ${input.name}${remoteHook ? ` (hook ${remoteHook.created ? 'created' : 'updated'})` : ''}` });
  }));
  return { id, hookUrl, secret, ...(remoteHook ? { remoteHook } : {}) };
}

import { createHash } from 'node:crypto';
import { git } from '../git/index.ts';
import { formatProblem, gitReads, loadPipelines, type ManualInput } from '../pipelines/index.ts';
import { blankEvent } from '../providers/event.ts';
import { providerFor, type ForgeName } from '../providers/index.ts';
import { audit, deliveries, newDeliveryId, repos, withTransaction } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { fetchCommit, mirrorPath } from './mirrors.ts';
import { planDelivery } from './plan.ts';
import { InputError, NotFoundError } from './errors.ts';

export class TriggerError extends InputError {}

/** Where a ref points on the forge: a branch, a tag (peeled) or a commit id. */
async function resolveRef(cloneUrl: string, auth: string[], ref: string): Promise<{ kind: 'branch' | 'tag' | 'sha'; name: string; sha: string } | null> {
  if (/^[0-9a-f]{40}$/.test(ref)) return { kind: 'sha', name: ref, sha: ref };
  const out = await git(['ls-remote', cloneUrl, `refs/heads/${ref}`, `refs/tags/${ref}`, `refs/tags/${ref}^{}`], { config: auth });
  const lines = out.trim().split('\n').filter(Boolean).map((l) => l.split('\t') as [string, string]);
  const branch = lines.find(([, r]) => r === `refs/heads/${ref}`);
  if (branch) return { kind: 'branch', name: ref, sha: branch[0] };
  const tag = lines.find(([, r]) => r === `refs/tags/${ref}^{}`) ?? lines.find(([, r]) => r === `refs/tags/${ref}`);
  return tag ? { kind: 'tag', name: ref, sha: tag[0] } : null;
}

/** Inputs checked against `on.manual.inputs`: types, choices, required ones, defaults filled in. */
export function checkInputs(declared: Record<string, ManualInput>, given: Record<string, string>): Record<string, string> {
  const unknown = Object.keys(given).filter((k) => !(k in declared));
  if (unknown.length) throw new TriggerError(`unknown input(s) ${unknown.join(', ')}; the pipeline takes ${Object.keys(declared).join(', ') || 'none'}`);
  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(declared)) {
    const value = given[name] ?? (spec.default === null ? undefined : String(spec.default));
    if (value === undefined) {
      if (spec.required) throw new TriggerError(`input ${name} is required`);
      continue;
    }
    if (spec.type === 'boolean' && value !== 'true' && value !== 'false') throw new TriggerError(`input ${name} must be true or false`);
    if (spec.type === 'choice' && !spec.options!.includes(value)) throw new TriggerError(`input ${name} must be one of ${spec.options!.join(', ')}`);
    inputs[name] = value;
  }
  return inputs;
}

/**
 * `forgeline trigger`, POST /api/trigger: a `manual` event at a ref, stored
 * as a delivery (explained and listed like any other) and planned at once.
 * Manual runs deploy what they name: a rollback is a trigger of an older ref.
 */
export async function triggerManual(deps: SchedulerDeps, input: { repo: string; ref: string; pipeline?: string; inputs?: Record<string, string> }, actor: string): Promise<{ delivery: string; runs: number[] }> {
  const repo = await repos.findRepo(deps.pool, input.repo);
  if (!repo) throw new NotFoundError(`no repository ${input.repo}`);
  const token = await repos.repoToken(deps.pool, deps.box, repo.id);
  const auth = providerFor(repo.forge)?.credentials.gitAuthConfig({ name: repo.name, apiUrl: repo.apiUrl, token }) ?? [];
  const target = await resolveRef(repo.cloneUrl, auth, input.ref);
  if (!target) throw new TriggerError(`${input.ref} is not a branch, tag or commit of ${repo.name}`);
  const sha = await fetchCommit(deps, repo, target.sha);
  const { pipelines, broken } = await loadPipelines(gitReads(mirrorPath(deps, repo.id)), sha);
  const manual = pipelines.filter((p) => p.on.manual && (!input.pipeline || p.name === input.pipeline));
  if (!manual.length) {
    // A broken file may be the pipeline asked for: say what is wrong with it, not only that nothing matched.
    const problems = broken.filter((b) => !input.pipeline || b.name === input.pipeline).flatMap((b) => b.problems.map(formatProblem));
    const none = input.pipeline ? `pipeline ${input.pipeline} has no on.manual trigger at ${input.ref}` : `no pipeline has an on.manual trigger at ${input.ref}`;
    throw new TriggerError(problems.length ? `${none}; pipeline files with problems:\n${problems.join('\n')}` : none);
  }
  if (!input.pipeline && manual.length > 1 && Object.keys(input.inputs ?? {}).length) throw new TriggerError('name the pipeline (--pipeline) when giving inputs');
  const inputs = checkInputs(manual[0]!.on.manual!.inputs, input.inputs ?? {});

  const event = blankEvent(repo.forge as ForgeName, 'manual', repo.name, repo.cloneUrl);
  event.sha = sha;
  event.sender = actor;
  if (target.kind === 'branch') Object.assign(event, { ref: `refs/heads/${target.name}`, branch: target.name });
  if (target.kind === 'tag') Object.assign(event, { ref: `refs/tags/${target.name}`, tag: target.name });
  const id = newDeliveryId();
  const body = Buffer.from(JSON.stringify({ manual: { ref: input.ref, pipeline: input.pipeline ?? null, actor }, inputs }));
  await withTransaction(deps.pool, async (tx) => {
    await deliveries.storeDeliveries(tx, [{
      id, hook: 'manual', forge: repo.forge, repoId: repo.id, forgeDeliveryId: `manual:${id}`, eventHeader: 'manual', sourceAddress: null,
      receivedAt: new Date(), headers: { 'content-type': 'application/json' }, body, bodySha256: createHash('sha256').update(body).digest('hex'),
      status: 'accepted', reason: `triggered by ${actor}`, events: [event], refUpdates: [], actionFromHead: false,
    }]);
    await audit(tx, { actor, action: 'run.trigger', reason: `${repo.name} ${input.ref}${input.pipeline ? ` ${input.pipeline}` : ''}` });
  });
  return { delivery: id, runs: await planDelivery(deps, id, { only: input.pipeline }) };
}

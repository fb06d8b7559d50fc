import { createHash } from 'node:crypto';
import { PayloadError, providerFor, type ForgeEvent, type Headers } from '../providers/index.ts';
import { audit, deliveries, newDeliveryId, repos, withTransaction } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { inTransaction, QUEUES, type PlanJob } from './queues.ts';
import { redactHeaders } from './redact.ts';

export interface HookRequest {
  hook: string;
  headers: Headers;
  rawBody: Buffer;
  sourceAddress: string | null;
}

export interface HookAnswer {
  status: number;
  body?: Record<string, unknown>;
}

type IngestDeps = Pick<SchedulerDeps, 'pool' | 'boss' | 'box' | 'log'>;

async function reject(deps: IngestDeps, req: HookRequest, status: number, reason: string): Promise<HookAnswer> {
  deps.log.warn({ hook: req.hook, source: req.sourceAddress, status, reason }, 'hook request rejected');
  await audit(deps.pool, { hook: req.hook, sourceAddress: req.sourceAddress, action: `hook.rejected.${status}`, reason });
  return { status, body: { error: reason } };
}

/**
 * A request on a repository's hook: verified on the raw bytes, parsed,
 * stored with its plan job in one transaction. The answer is only given
 * after that commit, so a 2xx means nothing can be lost.
 */
export async function receiveHook(deps: IngestDeps, req: HookRequest): Promise<HookAnswer> {
  const repo = await repos.findRepoByHook(deps.pool, req.hook);
  const provider = repo && providerFor(repo.forge);
  if (!repo || !provider) return { status: 404, body: { error: 'unknown hook' } };

  const secrets = await repos.activeSecrets(deps.pool, deps.box, repo.id);
  if (!provider.verify(req.headers, req.rawBody, secrets)) {
    return reject(deps, req, 401, 'missing or invalid signature');
  }

  let payload: unknown;
  try {
    payload = provider.payloadOf(req.headers, req.rawBody);
  } catch (err) {
    if (err instanceof PayloadError) return { status: 400, body: { error: err.message } };
    throw err;
  }
  const parsed = provider.parse(req.headers, payload);
  let events: ForgeEvent[] = [];
  let status: deliveries.DeliveryStatus = 'accepted';
  let reason: string | null = null;
  if (parsed.outcome === 'events') {
    events = parsed.events;
    const foreign = events.find((e) => e.repo.name.toLowerCase() !== repo.name.toLowerCase());
    if (foreign) return reject(deps, req, 403, `payload names repository ${foreign.repo.name}, this hook belongs to ${repo.name}`);
  } else {
    status = 'ignored';
    reason = parsed.reason;
  }

  const bodySha256 = createHash('sha256').update(req.rawBody).digest('hex');
  const id = newDeliveryId();
  const stored = await withTransaction(deps.pool, async (tx) => {
    const result = await deliveries.insertDelivery(tx, {
      id, hook: req.hook, forge: provider.name, repoId: repo.id,
      forgeDeliveryId: provider.deliveryId(req.headers) ?? `sha256:${bodySha256}`,
      eventHeader: (req.headers[provider.eventHeader] as string | undefined) ?? null,
      sourceAddress: req.sourceAddress, headers: redactHeaders(req.headers),
      body: req.rawBody, bodySha256, status, reason, events,
    });
    if (result === 'accepted') {
      const job: PlanJob = { deliveryId: id };
      await deps.boss.send(QUEUES.plan, job, { db: inTransaction(tx) });
    }
    return result;
  });
  deps.log.info({ delivery: id, repo: repo.name, status: stored, reason }, 'delivery received');
  if (stored === 'accepted') return { status: 202, body: { delivery: id, status: 'accepted' } };
  if (stored === 'duplicate') return { status: 200, body: { delivery: id, status: 'duplicate' } };
  return { status: 200, body: { delivery: id, status: 'ignored', reason } };
}

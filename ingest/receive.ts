import { createHash } from 'node:crypto';
import { PayloadError, providerFor, type ForgeEvent, type ForgeName, type Headers, type Provider } from '../providers/index.ts';
import { blankEvent } from '../providers/event.ts';
import { jsonPayload } from '../providers/payload.ts';
import { audit, deliveries, newDeliveryId, repos, type Pool, type Repo, type sources } from '../store/index.ts';
import { allowed, cidrList } from './cidr.ts';
import { pick, sourceDeliveryId, sourceSignatureHeader, verifySource } from './source-hook.ts';
import type { DeliveryBatcher } from './delivery-batcher.ts';
import type { HookDirectory } from './hook-directory.ts';
import type { AuditLimiter, UnverifiedLimiter } from './rate-limit.ts';
import { redactBody, redactHeaders } from './redact.ts';
import { hookMetrics } from './metrics.ts';
import type { Prefetch } from './prefetch.ts';

export interface HookRequest {
  hook: string;
  headers: Headers;
  rawBody: Buffer;
  sourceAddress: string | null;
}

export interface HookAnswer {
  status: number;
  body?: Record<string, unknown>;
  headers?: Record<string, string>;
}

export interface IngestDeps {
  pool: Pool;
  directory: HookDirectory;
  batcher: DeliveryBatcher;
  limiter: UnverifiedLimiter;
  /** How many refusals per address reach the audit log and the server's log; the rest are counted only. */
  auditLimiter: AuditLimiter;
  /** Secrets of the forge-wide hooks, by forge (FORGELINE_<FORGE>_WEBHOOK_SECRET). */
  forgeSecrets: Partial<Record<string, string[]>>;
  log: { warn(obj: object, msg: string): void; info(obj: object, msg: string): void };
  /** Set where this process also plans: fetch an accepted delivery's commits while it is stored. */
  prefetch?: Prefetch;
}

export interface Target {
  provider: Provider;
  /** The repository whose own hook this is; null on a forge-wide hook. */
  repo: Repo | null;
  secrets: string[];
  /** A generic webhook source's hook (docs/api.md, "Hooks"). */
  source?: sources.Source;
}

async function findTarget(deps: IngestDeps, hook: string): Promise<Target | null> {
  const forgeWide = providerFor(hook);
  if (forgeWide) return { provider: forgeWide, repo: null, secrets: deps.forgeSecrets[forgeWide.name] ?? [] };
  const found = await deps.directory.byHook(hook);
  const provider = found && providerFor(found.repo.forge);
  if (provider) return { provider, repo: found.repo, secrets: found.secrets };
  const source = await deps.directory.bySourceHook(hook);
  const repo = source && (await repos.getRepo(deps.pool, source.source.repoId));
  const sourceProvider = repo && providerFor(repo.forge);
  return sourceProvider ? { provider: sourceProvider, repo, secrets: source.secrets, source: source.source } : null;
}

/** What a hook id names, or null: asked before its body is read, so an unknown one costs no memory. */
export async function hookTarget(deps: IngestDeps, hook: string): Promise<Target | null> {
  return findTarget(deps, hook);
}

/**
 * A refused hook request: answered with its reason, counted, logged and
 * audited (never with its body or a proof). A request refused before it was
 * verified counts against its address's rate limit, and past it is answered
 * 429. The audit log and the server's log take a few refusals per address
 * and minute: past that a flood is only counted, so it cannot fill the
 * database or drown the log.
 */
export async function refuseHook(deps: IngestDeps, req: Pick<HookRequest, 'hook' | 'sourceAddress'>, forge: string, status: number, reason: string, opts: { verified?: boolean } = {}): Promise<HookAnswer> {
  const address = req.sourceAddress ?? 'unknown';
  const wait = opts.verified ? null : deps.limiter.take(address);
  const answer: HookAnswer = wait === null
    ? { status, body: { error: reason } }
    : { status: 429, body: { error: 'too many unverified requests' }, headers: { 'Retry-After': String(wait) } };
  hookMetrics.requests.inc({ forge, outcome: String(answer.status) });
  if (!deps.auditLimiter.take(address)) {
    hookMetrics.unaudited.inc({ forge, outcome: String(answer.status) });
    return answer;
  }
  deps.log.warn({ hook: req.hook, source: req.sourceAddress, status: answer.status, reason }, 'hook request refused');
  await audit(deps.pool, { hook: req.hook, sourceAddress: req.sourceAddress, action: `hook.refused.${answer.status}`, reason });
  return answer;
}

/** (ref, sha) of each push or tag that would start work: the key of the third duplicate rule (docs/api.md, "Hooks"). */
function refUpdates(events: ForgeEvent[]): Array<{ ref: string; sha: string }> {
  return events.filter((e) => (e.kind === 'push' || e.kind === 'tag') && e.ref && e.sha && !e.deleted).map((e) => ({ ref: e.ref!, sha: e.sha! }));
}

/** A generic source's delivery: a `webhook` event whose branch and commit are the default branch's, found when planned. */
async function receiveSourceDelivery(deps: IngestDeps, req: HookRequest, source: sources.Source, repo: Repo): Promise<HookAnswer> {
  let payload: unknown;
  try {
    payload = jsonPayload(req.headers, req.rawBody);
  } catch (err) {
    if (!(err instanceof PayloadError)) throw err;
    return refuseHook(deps, req, `source:${source.name}`, 400, err.message, { verified: true });
  }
  const event = blankEvent(repo.forge as ForgeName, 'webhook', repo.name, repo.cloneUrl);
  event.source = source.name;
  event.type = pick(source.typeFrom, req.headers, payload);
  const bodySha256 = createHash('sha256').update(req.rawBody).digest('hex');
  const stored = await deps.batcher.store({
    id: newDeliveryId(), hook: req.hook, forge: repo.forge, repoId: repo.id, forgeDeliveryId: sourceDeliveryId(source, req.headers, payload, req.rawBody),
    eventHeader: `source:${source.name}`, sourceAddress: req.sourceAddress, receivedAt: new Date(), headers: redactHeaders(req.headers, [sourceSignatureHeader(source)]),
    body: redactBody(payload, req.rawBody), bodySha256, status: 'accepted', reason: null, events: [event], refUpdates: [], actionFromHead: false,
  });
  hookMetrics.requests.inc({ forge: `source:${source.name}`, outcome: stored.status });
  deps.log.info({ delivery: stored.id, source: source.name, repo: repo.name, type: event.type, status: stored.status }, 'delivery received');
  return stored.status === 'accepted'
    ? { status: 202, body: { delivery: stored.id, status: 'accepted' } }
    : { status: 200, body: { delivery: stored.id, status: 'duplicate' } };
}

/**
 * The front door (docs/api.md, "Hooks"): verify on the raw bytes, parse, and store
 * the delivery with its plan job before answering, so a 2xx means nothing
 * can be lost. Verified deliveries are never refused for load.
 */
export async function receiveHook(deps: IngestDeps, req: HookRequest, known?: Target): Promise<HookAnswer> {
  const receivedAt = new Date();
  // The caller may have looked the hook up already, before reading the body: not twice.
  const target = known ?? await findTarget(deps, req.hook);
  if (!target) return refuseHook(deps, req, 'unknown', 404, 'unknown hook');
  const { provider } = target;
  const cidrs = target.source ? target.source.allowCidrs : target.repo?.allowCidrs;
  if (cidrs?.length && !allowed(cidrList(cidrs), req.sourceAddress)) {
    return refuseHook(deps, req, provider.name, 403, `source address ${req.sourceAddress} is not allowed on this hook`);
  }
  const verified = target.source
    ? verifySource(target.source, req.headers, req.rawBody, target.secrets)
    : target.secrets.length > 0 && provider.verify.proves(req.headers, req.rawBody, target.secrets);
  if (!verified) {
    return refuseHook(deps, req, provider.name, 401, target.secrets.length ? 'missing or invalid signature' : `no secret is configured for this hook`);
  }
  if (target.source) return receiveSourceDelivery(deps, req, target.source, target.repo!);

  let payload: unknown;
  try {
    payload = provider.parse.payloadOf(req.headers, req.rawBody);
  } catch (err) {
    if (!(err instanceof PayloadError)) throw err;
    return refuseHook(deps, req, provider.name, 400, err.message, { verified: true });
  }

  const parsed = provider.parse.events(req.headers, payload);
  const events = parsed.outcome === 'events' ? parsed.events : [];
  const named = parsed.outcome === 'events' ? events[0]?.repo.name ?? null : parsed.repoName ?? null;
  let repo = target.repo;
  // A rerequested check is stored and planned like an event: the plan job reruns what it names.
  let status: deliveries.DeliveryStatus = parsed.outcome === 'ignored' ? 'ignored' : 'accepted';
  let reason = parsed.outcome === 'ignored' ? parsed.reason : parsed.outcome === 'rerun' ? 'rerequested' : null;
  if (repo) {
    // Whatever its outcome: a ping or an action Forgeline ignores that names another repository is refused too.
    const foreign = events.find((e) => e.repo.name.toLowerCase() !== repo!.name.toLowerCase())
      ?? (named && named.toLowerCase() !== repo.name.toLowerCase() ? { repo: { name: named } } : undefined);
    if (foreign) return refuseHook(deps, req, provider.name, 403, `payload names repository ${foreign.repo.name}; this hook belongs to ${repo.name}`, { verified: true });
  } else if (named) {
    repo = (await deps.directory.byName(provider.name, named))?.repo ?? null;
    if (!repo && status === 'accepted') {
      status = 'ignored';
      reason = `repository ${named} is not registered`;
    }
  }

  if (repo && status === 'accepted') deps.prefetch?.(repo, events);
  const bodySha256 = createHash('sha256').update(provider.verify.signedBytes?.(req.headers, req.rawBody) ?? req.rawBody).digest('hex');
  const stored = await deps.batcher.store({
    id: newDeliveryId(), hook: req.hook, forge: provider.name, repoId: repo?.id ?? null,
    // Without a forge delivery id, the body's hash stands in (docs/api.md, "Hooks").
    forgeDeliveryId: provider.verify.deliveryId(req.headers) ?? `sha256:${bodySha256}`,
    eventHeader: (req.headers[provider.parse.eventHeader] as string | undefined) ?? null,
    sourceAddress: req.sourceAddress, receivedAt, headers: redactHeaders(req.headers),
    body: redactBody(payload, req.rawBody), bodySha256, status, reason, events,
    refUpdates: refUpdates(events),
    actionFromHead: parsed.outcome === 'events' && parsed.actionFromHead === true,
  });
  hookMetrics.requests.inc({ forge: provider.name, outcome: stored.status });
  deps.log.info({ delivery: stored.id, forge: provider.name, repo: repo?.name ?? named, status: stored.status, reason: stored.reason }, 'delivery received');
  if (stored.status === 'accepted') return { status: 202, body: { delivery: stored.id, status: 'accepted' } };
  if (stored.status === 'duplicate') return { status: 200, body: { delivery: stored.id, status: 'duplicate' } };
  return { status: 200, body: { delivery: stored.id, status: 'ignored', reason: stored.reason } };
}

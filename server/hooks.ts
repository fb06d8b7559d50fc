import Router from '@koa/router';
import type { Context } from 'koa';
import { providerFor } from '../providers/index.ts';
import { hookMetrics } from '../ingest/index.ts';
import { hookTarget, receiveHook, refuseHook, type HookAnswer, type IngestDeps } from '../ingest/index.ts';
import type { BlockList } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isDatabaseUnavailable } from '../store/index.ts';
import { clientView } from './client-address.ts';
import { BodiesOverBudget, bodyBudget, BodyTooLarge, readRawBody } from './raw-body.ts';

const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded'];

export interface HookTransport {
  requireHttps: boolean;
  /** Mutual TLS: hooks need a client certificate the server's CA signed. */
  requireClientCert: boolean;
  trustedProxies: BlockList | null;
}

/**
 * Closes the connection once the answer is out, without reading what is left
 * of the body: Node would otherwise read it to the end to throw it away,
 * which a sender of large bodies can keep it busy with.
 */
function cutAfterAnswer(ctx: Context): void {
  ctx.set('Connection', 'close');
  // The socket as it is now (none when the sender already hung up): by the time the answer is out, the request may have let go of it.
  const socket = ctx.req.socket;
  ctx.res.once('finish', () => socket?.destroy());
}

/** POST /hooks/<hookId> and /hooks/<forge>: the front door. The rules live in ingest/receive.ts. */
export function hookRoutes(deps: IngestDeps, bodyLimit: number, transport: HookTransport): Router {
  const router = new Router();
  // The largest body and a little more: deliveries are small (kilobytes) and fit beside one of the
  // largest; a flood of big unverified ones cannot pile up past it.
  const budget = bodyBudget(bodyLimit + 1024 * 1024);
  router.all('/hooks/:hook', async (ctx) => {
    const client = clientView(ctx.req, transport.trustedProxies);
    const request = { hook: ctx.params.hook!, sourceAddress: client.address };
    // The forge, where the route names it; a repository's own hook is known only once looked up.
    const forge = providerFor(request.hook)?.name ?? 'unknown';
    const answer = async (status: number, reason: string) => {
      const refused = await refuseHook(deps, request, forge, status, reason);
      ctx.status = refused.status;
      ctx.body = refused.body;
    };
    if (ctx.method !== 'POST') {
      ctx.set('Allow', 'POST');
      return answer(405, `method ${ctx.method} is not allowed: hooks take POST`);
    }
    // Refused, never redirected: a forge would not follow a redirect of its POST.
    const refusal = transport.requireClientCert && !(ctx.req.socket as TLSSocket).authorized
      ? 'a client certificate signed by FORGELINE_TLS_CLIENT_CA is required'
      : transport.requireHttps && !client.https ? 'hooks are served over HTTPS only (FORGELINE_REQUIRE_HTTPS)' : null;
    if (refusal) return answer(403, refusal);
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (!CONTENT_TYPES.includes(type)) return answer(415, `content type must be one of ${CONTENT_TYPES.join(', ')}`);
    // An unknown hook is answered before its body is read, and the connection cut so the rest is never read either.
    const target = await hookTarget(deps, request.hook);
    if (!target) {
      cutAfterAnswer(ctx);
      return answer(404, 'unknown hook');
    }
    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(ctx.req, bodyLimit, budget);
    } catch (err) {
      cutAfterAnswer(ctx);
      if (err instanceof BodiesOverBudget) {
        hookMetrics.requests.inc({ forge, outcome: '503' });
        ctx.set('Retry-After', '5');
        ctx.status = 503;
        ctx.body = { error: 'too many large deliveries at once: try again shortly' };
        return;
      }
      if (!(err instanceof BodyTooLarge)) throw err;
      return answer(413, `body over the limit of ${bodyLimit} bytes`);
    }
    let result: HookAnswer;
    try {
      result = await receiveHook(deps, { ...request, headers: ctx.req.headers, rawBody }, target);
    } catch (err) {
      // Answered 503 by the app; the audit log is in the database that is away, so the count and the log say it.
      if (isDatabaseUnavailable(err)) {
        hookMetrics.requests.inc({ forge, outcome: '503' });
        deps.log.warn({ hook: request.hook, source: request.sourceAddress, status: 503 }, 'hook request refused: database unavailable, nothing stored');
      }
      throw err;
    } finally {
      budget.release(rawBody.length);
    }
    ctx.status = result.status;
    for (const [name, value] of Object.entries(result.headers ?? {})) ctx.set(name, value);
    if (result.body) ctx.body = result.body;
  });
  return router;
}

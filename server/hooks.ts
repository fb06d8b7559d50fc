import Router from '@koa/router';
import { providerFor } from '../providers/index.ts';
import { hookMetrics, receiveHook, refuseHook, type HookAnswer, type IngestDeps } from '../scheduler/index.ts';
import type { BlockList } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { isDatabaseUnavailable } from '../store/index.ts';
import { clientView } from './client-address.ts';
import { BodyTooLarge, readRawBody } from './raw-body.ts';

const CONTENT_TYPES = ['application/json', 'application/x-www-form-urlencoded'];

export interface HookTransport {
  requireHttps: boolean;
  /** Mutual TLS: hooks need a client certificate the server's CA signed. */
  requireClientCert: boolean;
  trustedProxies: BlockList | null;
}

/** POST /hooks/<hookId> and /hooks/<forge>: the front door. The rules live in scheduler/ingest.ts. */
export function hookRoutes(deps: IngestDeps, bodyLimit: number, transport: HookTransport): Router {
  const router = new Router();
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
    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(ctx.req, bodyLimit);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      return answer(413, `body over the limit of ${bodyLimit} bytes`);
    }
    let result: HookAnswer;
    try {
      result = await receiveHook(deps, { ...request, headers: ctx.req.headers, rawBody });
    } catch (err) {
      // Answered 503 by the app; the audit log is in the database that is away, so the count and the log say it.
      if (isDatabaseUnavailable(err)) {
        hookMetrics.requests.inc({ forge, outcome: '503' });
        deps.log.warn({ hook: request.hook, source: request.sourceAddress, status: 503 }, 'hook request refused: database unavailable, nothing stored');
      }
      throw err;
    }
    ctx.status = result.status;
    for (const [name, value] of Object.entries(result.headers ?? {})) ctx.set(name, value);
    if (result.body) ctx.body = result.body;
  });
  return router;
}

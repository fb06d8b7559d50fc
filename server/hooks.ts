import Router from '@koa/router';
import { receiveHook, type IngestDeps } from '../scheduler/index.ts';
import type { BlockList } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { audit } from '../store/index.ts';
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
    if (ctx.method !== 'POST') {
      ctx.set('Allow', 'POST');
      ctx.status = 405;
      return;
    }
    const client = clientView(ctx.req, transport.trustedProxies);
    // Refused, never redirected: a forge would not follow a redirect of its POST.
    const refusal = transport.requireClientCert && !(ctx.req.socket as TLSSocket).authorized
      ? 'a client certificate signed by FORGELINE_TLS_CLIENT_CA is required'
      : transport.requireHttps && !client.https ? 'hooks are served over HTTPS only (FORGELINE_REQUIRE_HTTPS)' : null;
    if (refusal) {
      await audit(deps.pool, { hook: ctx.params.hook, sourceAddress: client.address, action: 'hook.refused.403', reason: refusal });
      ctx.status = 403;
      ctx.body = { error: refusal };
      return;
    }
    const type = (ctx.get('content-type').split(';')[0] ?? '').trim().toLowerCase();
    if (!CONTENT_TYPES.includes(type)) {
      ctx.status = 415;
      ctx.body = { error: `content type must be one of ${CONTENT_TYPES.join(', ')}` };
      return;
    }
    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(ctx.req, bodyLimit);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      ctx.status = 413;
      ctx.body = { error: `body over the limit of ${bodyLimit} bytes` };
      return;
    }
    const answer = await receiveHook(deps, {
      hook: ctx.params.hook!, headers: ctx.req.headers, rawBody, sourceAddress: client.address,
    });
    ctx.status = answer.status;
    for (const [name, value] of Object.entries(answer.headers ?? {})) ctx.set(name, value);
    if (answer.body) ctx.body = answer.body;
  });
  return router;
}

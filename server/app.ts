import Koa from 'koa';
import { type SchedulerDeps } from '../scheduler/index.ts';
import { refreshQueueDepth } from './queue-depth.ts';
import { type IngestDeps, type UrlPolicy } from '../ingest/index.ts';
import { jsonBody } from './json-body.ts';
import { uiRoutes } from './ui.ts';
import { badgeRoutes } from './badges.ts';
import { cidrList } from '../ingest/cidr.ts';
import { apiRoutes, type ApiAuth } from './api.ts';
import { isDatabaseUnavailable } from '../store/index.ts';
import { healthRoutes } from './health.ts';
import { hookRoutes } from './hooks.ts';

/** Transport settings (docs/operations.md). */
export interface TransportConfig {
  /** FORGELINE_TLS_CERT / FORGELINE_TLS_KEY (PEM files): serve HTTPS directly. */
  tlsCert: string | null;
  tlsKey: string | null;
  /** FORGELINE_TLS_CLIENT_CA: hooks need a client certificate signed by it (mutual TLS). */
  tlsClientCa: string | null;
  /** FORGELINE_REQUIRE_HTTPS=true: hooks that did not arrive over TLS are refused (403), never redirected. */
  requireHttps: boolean;
  /** FORGELINE_TRUSTED_PROXIES: CIDRs whose X-Forwarded-For and X-Forwarded-Proto are believed. */
  trustedProxies: string[];
}

export interface AppOptions {
  auth: ApiAuth;
  bodyLimitBytes: number;
  urls: UrlPolicy;
  transport?: TransportConfig;
}

export function createApp(deps: SchedulerDeps, ingest: IngestDeps, opts: AppOptions): Koa {
  const app = new Koa();
  // A reader that leaves an event stream (a page closed, a follower gone) ends it: that is no error.
  app.on('error', (err: Error & { code?: string }, ctx?: Koa.Context) => {
    if (err.code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    deps.log.error({ err: err.message, path: ctx?.path }, 'response failed');
  });
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (isDatabaseUnavailable(err)) {
        ctx.status = 503;
        ctx.body = { error: 'database unavailable: nothing was stored' };
        return;
      }
      deps.log.error({ err: (err as Error).message, stack: (err as Error).stack, path: ctx.path }, 'request failed');
      ctx.status = 500;
      ctx.body = { error: 'internal error' };
    }
  });
  app.use(jsonBody);
  const trustedProxies = opts.transport?.trustedProxies.length ? cidrList(opts.transport.trustedProxies) : null;
  for (const router of [healthRoutes(deps.pool, () => refreshQueueDepth(deps.boss)), hookRoutes(ingest, opts.bodyLimitBytes, {
    requireHttps: opts.transport?.requireHttps ?? false,
    requireClientCert: Boolean(opts.transport?.tlsClientCa),
    trustedProxies,
  }), apiRoutes(deps, opts.auth, opts.urls), badgeRoutes(deps.pool, opts.auth), uiRoutes(deps, opts.auth, trustedProxies)]) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }
  return app;
}

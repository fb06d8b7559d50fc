import Router from '@koa/router';
import { readFileSync } from 'node:fs';
import { schemaPath } from '../pipelines/index.ts';
import { metricsRegistry } from '../scheduler/index.ts';
import { openApiDocument } from './openapi.ts';
import { ping, type Pool } from '../store/index.ts';

export function healthRoutes(pool: Pool, refreshQueueDepth: () => Promise<void> = async () => {}): Router {
  const router = new Router();
  const schema = readFileSync(schemaPath, 'utf8');
  router.get('/healthz', (ctx) => { ctx.body = { status: 'ok' }; });
  router.get('/readyz', async (ctx) => {
    try {
      await ping(pool);
      ctx.body = { status: 'ready' };
    } catch (err) {
      ctx.status = 503;
      ctx.body = { status: 'unavailable', error: (err as Error).message };
    }
  });
  router.get('/metrics', async (ctx) => {
    await refreshQueueDepth();
    ctx.type = metricsRegistry.contentType;
    ctx.body = await metricsRegistry.metrics();
  });
  router.get('/api/openapi.json', (ctx) => {
    ctx.body = openApiDocument;
  });
  router.get('/pipeline.schema.json', (ctx) => {
    ctx.type = 'application/schema+json';
    ctx.body = schema;
  });
  return router;
}

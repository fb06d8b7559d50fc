// The server side of bench/ingest.ts and bench/scale.ts, in its own process
// so that the load generator does not share its CPU: the least a correct
// receiver does (`baseline`: verify the HMAC, parse the JSON, answer 202),
// the least a durable one does (`floor`: the same, then one row per delivery
// group-committed, answering once it is stored), or Forgeline's own hook.
import { createHmac, timingSafeEqual } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import { readConfig } from '../cli/config.ts';
import { openRuntime } from '../cli/runtime.ts';
import { registerRepo } from '../ingest/index.ts';
import { listen } from '../server/index.ts';
import { readRawBody } from '../server/raw-body.ts';
import pg from 'pg';
import pino from 'pino';

const mode = process.argv[2];
const secret = 'bench-secret';

/** The body once its HMAC checks out and it parses as JSON; null (answered 401) when it does not verify. */
async function verifiedAndParsed(ctx: Koa.Context): Promise<Buffer | null> {
  const body = await readRawBody(ctx.req, 25 * 1024 * 1024);
  const given = Buffer.from((ctx.get('x-hub-signature-256') ?? '').slice(7), 'hex');
  const expected = createHmac('sha256', secret).update(body).digest();
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    ctx.status = 401;
    return null;
  }
  JSON.parse(body.toString('utf8'));
  return body;
}

async function baseline(): Promise<number> {
  const app = new Koa();
  const router = new Router();
  router.post('/hooks/:hook', async (ctx) => {
    const body = await verifiedAndParsed(ctx);
    if (!body) return;
    ctx.status = 202;
    ctx.body = { delivery: 'x', status: 'accepted' };
  });
  app.use(router.routes());
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

/**
 * Group commit as Forgeline's hook path does it (ingest/delivery-batcher.ts):
 * deliveries that arrive while a commit is in flight wait and go together in
 * the next one statement; each is answered once its row is committed.
 */
async function floor(): Promise<number> {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  await pool.query('CREATE TABLE IF NOT EXISTS bench_floor (id text PRIMARY KEY, received_at timestamptz NOT NULL DEFAULT now(), headers jsonb NOT NULL, body bytea NOT NULL)');
  let waiting: Array<{ id: string; headers: string; body: Buffer; done: (err?: Error) => void }> = [];
  let flushing = false;
  const flush = async () => {
    if (flushing || !waiting.length) return;
    flushing = true;
    const batch = waiting;
    waiting = [];
    try {
      await pool.query('INSERT INTO bench_floor (id, headers, body) SELECT * FROM unnest($1::text[], $2::jsonb[], $3::bytea[])', [batch.map((d) => d.id), batch.map((d) => d.headers), batch.map((d) => d.body)]);
      for (const d of batch) d.done();
    } catch (err) {
      for (const d of batch) d.done(err as Error);
    } finally {
      flushing = false;
      void flush();
    }
  };
  const app = new Koa();
  const router = new Router();
  router.post('/hooks/:hook', async (ctx) => {
    const body = await verifiedAndParsed(ctx);
    if (!body) return;
    const id = ctx.get('x-github-delivery');
    await new Promise<void>((resolve, reject) => {
      waiting.push({ id, headers: JSON.stringify(ctx.headers), body, done: (err) => (err ? reject(err) : resolve()) });
      void flush();
    });
    ctx.status = 202;
    ctx.body = { delivery: id, status: 'accepted' };
  });
  app.use(router.routes());
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
  });
}

async function forgeline(): Promise<{ port: number; hookPath: string }> {
  const config = readConfig({ ...process.env, FORGELINE_ALLOW_LOCAL: 'true', FORGELINE_SECRET_KEY: 'bench' }, { port: 0 });
  const runtime = await openRuntime(config, pino({ level: 'silent' }));
  // Registered by an earlier target on this database (bench/scale.ts measures it twice): its hook, same secret.
  const { rows: [known] } = await runtime.db.pool.query<{ hookId: string }>(`SELECT hook_id AS "hookId" FROM repos WHERE name = 'acme/bench'`);
  const hookPath = known ? `/hooks/${known.hookId}` : new URL((await registerRepo(
    { pool: runtime.db.pool, box: runtime.deps.box, publicUrl: 'http://bench', urls: config.urls },
    { forge: 'github', name: 'acme/bench', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9/api/v3', secret }, 'bench')).hookUrl).pathname;
  const server = await listen(runtime.deps, runtime.ingest, { auth: { apiToken: undefined, publicRead: false }, bodyLimitBytes: config.bodyLimitBytes, urls: config.urls }, 0, '127.0.0.1');
  return { port: (server.address() as { port: number }).port, hookPath };
}

if (mode === 'baseline' || mode === 'floor') {
  const port = mode === 'baseline' ? await baseline() : await floor();
  process.stdout.write(`${JSON.stringify({ port, hookPath: `/hooks/${mode}` })}\n`);
} else {
  process.stdout.write(`${JSON.stringify(await forgeline())}\n`);
}
// Exit normally on SIGINT, so that --cpu-prof writes its profile.
process.on('SIGINT', () => process.exit(0));

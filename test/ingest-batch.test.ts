import { createHash, randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryBatcher, registerRepo } from '../ingest/index.ts';
import { inlineJob, QUEUES } from '../scheduler/queues.ts';
import { createIngestPool, deliveries, newDeliveryId, type Pool } from '../store/index.ts';
import { startForgeline, type TestForgeline } from './helpers/forgeline.ts';

// The hook path's group commit: one statement stores a batch and its plan job (store/deliveries.ts, scheduler/queues.ts).
describe('ingest batches', () => {
  let forgeline: TestForgeline;
  let pool: Pool;
  let boss: PgBoss;
  let repoId: string;

  beforeAll(async () => {
    // No workers: plan jobs stay queued, to be read here.
    forgeline = await startForgeline({ workers: 0 });
    pool = forgeline.runtime.db.pool;
    boss = forgeline.runtime.deps.boss;
    await registerRepo(
      { pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/batch', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9/api/v3' }, 'test');
    repoId = (await pool.query(`SELECT id FROM repos WHERE name = 'acme/batch'`)).rows[0].id;
  });
  afterAll(() => forgeline?.stop());

  const delivery = (body: string, opts: Partial<deliveries.NewDelivery> & { sha?: string } = {}): deliveries.NewDelivery => {
    const bytes = Buffer.from(body);
    const sha = opts.sha ?? createHash('sha1').update(body).digest('hex');
    return {
      id: newDeliveryId(), hook: 'h', forge: 'github', repoId, forgeDeliveryId: randomUUID(), eventHeader: 'push', sourceAddress: null,
      receivedAt: new Date(), headers: { 'x-github-event': 'push' }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex'),
      status: 'accepted', reason: null, events: [{ kind: 'push', ref: 'refs/heads/main', sha }], refUpdates: [{ ref: 'refs/heads/main', sha }],
      actionFromHead: false, ...opts,
    };
  };
  const planJobs = async () => (await pool.query(
    `SELECT data, retry_limit, retry_delay, retry_backoff, heartbeat_seconds, expire_seconds, deletion_seconds, policy, priority, state
     FROM pgboss.job WHERE name = $1 ORDER BY created_on, id`, [QUEUES.plan])).rows;

  it('stores every delivery with the status its claims decide, and one plan job for the accepted ones, in one statement', async () => {
    const job = await inlineJob(boss, QUEUES.plan);
    // The installed pg-boss's insert has the shape the hook path splices; if not, ingest falls back to a transaction.
    expect(job).not.toBeNull();
    const seenBefore = delivery(`seen ${randomUUID()}`);
    await deliveries.storeDeliveries(pool, [seenBefore], { job: job! });
    const before = (await planJobs()).length;

    const fresh = delivery(`fresh ${randomUUID()}`);
    const copy = { ...delivery(fresh.body.toString()), id: newDeliveryId() };
    const again = { ...delivery(`other body ${randomUUID()}`), forgeDeliveryId: seenBefore.forgeDeliveryId };
    const samePush = delivery(`same push ${randomUUID()}`, { sha: fresh.refUpdates[0]!.sha });
    const ignored = delivery(`ping ${randomUUID()}`, { status: 'ignored', reason: 'ping', events: [], refUpdates: [] });
    const second = delivery(`second ${randomUUID()}`);
    const stored = await deliveries.storeDeliveries(pool, [fresh, copy, again, samePush, ignored, second], { job: job! });

    expect(stored.map((s) => [s.status, s.reason])).toEqual([
      ['accepted', null],
      ['duplicate', `same body as delivery ${fresh.id}`],
      ['duplicate', `delivery id ${seenBefore.forgeDeliveryId} was seen before`],
      ['duplicate', `refs/heads/main at ${fresh.refUpdates[0]!.sha.slice(0, 12)} already planned`],
      ['ignored', 'ping'],
      ['accepted', null],
    ]);
    const rows = (await pool.query('SELECT id, status, reason FROM deliveries WHERE id = ANY($1)', [stored.map((s) => s.id)])).rows;
    expect(new Map(rows.map((r) => [r.id, [r.status, r.reason]]))).toEqual(new Map(stored.map((s) => [s.id, [s.status, s.reason]])));

    const jobs = (await planJobs()).slice(before);
    expect(jobs.map((j) => j.data)).toEqual([{ deliveryIds: [fresh.id, second.id] }]);
    // The same settings as a job pg-boss's own send makes on that queue.
    await boss.send(QUEUES.plan, { deliveryIds: [] });
    const [spliced, sent] = (await planJobs()).slice(before);
    expect({ ...spliced, data: null }).toEqual({ ...sent, data: null });
    expect(spliced.state).toBe('created');
  });

  it('inserts no job when nothing in the batch is accepted', async () => {
    const job = (await inlineJob(boss, QUEUES.plan))!;
    const first = delivery(`once ${randomUUID()}`);
    await deliveries.storeDeliveries(pool, [first], { job });
    const before = (await planJobs()).length;
    const stored = await deliveries.storeDeliveries(pool, [{ ...first, id: newDeliveryId() }], { job });
    expect(stored[0]!.status).toBe('duplicate');
    expect((await planJobs()).length).toBe(before);
  });

  it('fails the statement of a delivery id accepted meanwhile by another batch, which a second look calls a duplicate', async () => {
    const [a, b] = [await pool.connect(), await pool.connect()];
    try {
      const first = delivery(`side a ${randomUUID()}`);
      const other = { ...delivery(`side b ${randomUUID()}`), forgeDeliveryId: first.forgeDeliveryId };
      await a.query('BEGIN');
      await deliveries.storeDeliveries(a, [first]);
      // b's insert waits on a's entry in the unique index, and fails once a commits.
      const blocked = deliveries.storeDeliveries(b, [other]).then(() => 'stored', (err) => err.code);
      await new Promise((r) => setTimeout(r, 200));
      await a.query('COMMIT');
      expect(await blocked).toBe('23505');
      // The batcher runs the batch again: nothing of the failed statement was kept.
      expect((await pool.query('SELECT count(*)::int AS n FROM body_claims WHERE delivery_id = $1', [other.id])).rows[0].n).toBe(0);
      const [retried] = await deliveries.storeDeliveries(b, [other]);
      expect(retried).toMatchObject({ status: 'duplicate', reason: `delivery id ${first.forgeDeliveryId} was seen before` });
    } finally {
      a.release();
      b.release();
    }
  });

  it('looks earlier deliveries and claims up by key on the ingest connections, even in a plan made while the tables were empty', async () => {
    // A generic plan (what a prepared statement runs after five executions) is costed from the
    // tables' statistics; on empty tables an ordinary connection's plan scans them for every row.
    await pool.query('TRUNCATE deliveries, body_claims, ref_updates CASCADE');
    await pool.query('ANALYZE deliveries; ANALYZE body_claims; ANALYZE ref_updates');
    const { text, values } = deliveries.storeStatement([delivery(`plan ${randomUUID()}`), delivery(`plan ${randomUUID()}`)], (await inlineJob(boss, QUEUES.plan))!);
    const lookups = async (p: Pool) => {
      const client = await p.connect();
      try {
        await client.query('BEGIN');
        await client.query('SET LOCAL plan_cache_mode = force_generic_plan');
        const [{ 'QUERY PLAN': [plan] }] = (await client.query(`EXPLAIN (FORMAT JSON) ${text}`, values)).rows;
        const scans: Array<{ relation: string; type: string; cond?: string }> = [];
        const walk = (node: any) => {
          if (['deliveries', 'body_claims'].includes(node['Relation Name']) && node['Node Type'] !== 'ModifyTable') {
            scans.push({ relation: node['Relation Name'], type: node['Node Type'], cond: node['Index Cond'] });
          }
          for (const child of node.Plans ?? []) walk(child);
        };
        walk(plan.Plan);
        return scans;
      } finally {
        await client.query('ROLLBACK');
        client.release();
      }
    };
    const ingestPool = createIngestPool(forgeline.database.url, 1);
    try {
      const scans = await lookups(ingestPool);
      expect(scans.map((s) => s.relation).sort()).toEqual(['body_claims', 'deliveries']);
      for (const scan of scans) expect(scan, JSON.stringify(scan)).toMatchObject({ type: 'Index Scan', cond: expect.stringMatching(/=/) });
      // The control: an ordinary connection plans the scan the ingest connections are kept from.
      expect((await lookups(pool)).some((s) => s.cond === undefined)).toBe(true);
    } finally {
      await ingestPool.end();
    }
  });

  it('sends with pg-boss in a transaction when pg-boss builds its insert another way', async () => {
    // A pg-boss whose insert is not of the known shape: the first send (the capture) sees another statement.
    let captures = 0;
    const changed = new Proxy(boss, {
      get(target, prop, receiver) {
        if (prop !== 'send') return Reflect.get(target, prop, receiver);
        return async (name: string, data: object, opts?: { db?: { executeSql(t: string, v: unknown[]): Promise<unknown> } }) => {
          if (captures++ === 0) return opts!.db!.executeSql('INSERT INTO somewhere_else SELECT * FROM json_to_recordset($1::json)', ['[]']);
          return target.send(name, data, opts as never);
        };
      },
    });
    expect(await inlineJob(changed, QUEUES.plan)).toBeNull();
    captures = 0;
    const batcher = deliveryBatcher(pool, changed);
    const before = (await planJobs()).length;
    const d = delivery(`fallback ${randomUUID()}`);
    expect(await batcher.store(d)).toMatchObject({ id: d.id, status: 'accepted' });
    expect((await planJobs()).slice(before).map((j) => j.data)).toEqual([{ deliveryIds: [d.id] }]);
  });
});

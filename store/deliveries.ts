import type { Queryable } from './db.ts';

export type DeliveryStatus = 'accepted' | 'duplicate' | 'ignored';

export interface NewDelivery {
  id: string;
  hook: string;
  forge: string;
  repoId: string | null;
  forgeDeliveryId: string;
  eventHeader: string | null;
  sourceAddress: string | null;
  receivedAt: Date;
  headers: Record<string, string>;
  body: Buffer;
  bodySha256: string;
  status: DeliveryStatus;
  reason: string | null;
  events: unknown[];
  /** (ref, sha) of the push and tag events: each is planned once per repository. */
  refUpdates: Array<{ ref: string; sha: string }>;
  /** A pull request event whose action (synchronize or edited) depends on the last head seen. */
  actionFromHead: boolean;
}

interface PullRequestEvent {
  action: string | null;
  pullRequest: { number: number; headSha: string } | null;
}

/**
 * Records the head of every open pull request event, in arrival order (the
 * row lock serializes concurrent batches), and settles `synchronize` versus
 * `edited` where the payload could not say.
 */
async function settlePullRequestHeads(db: Queryable, repoId: string | null, d: NewDelivery): Promise<void> {
  if (!repoId) return;
  for (const event of d.events as PullRequestEvent[]) {
    const pr = event.pullRequest;
    if (!pr || event.action === 'closed' || event.action === 'merged') continue;
    const previous = await swapPullRequestHead(db, repoId, pr.number, pr.headSha);
    if (d.actionFromHead && event.action === 'synchronize' && previous === pr.headSha) event.action = 'edited';
  }
}

export interface Delivery {
  id: string;
  hook: string;
  forge: string;
  repoId: string | null;
  repo: string | null;
  forgeDeliveryId: string;
  eventHeader: string | null;
  receivedAt: Date;
  headers: Record<string, string>;
  status: DeliveryStatus;
  reason: string | null;
  events: unknown[];
  explain: unknown[];
}

export interface Stored {
  id: string;
  status: DeliveryStatus;
  reason: string | null;
}

function insertRows(db: Queryable, rows: NewDelivery[], onConflict: string): Promise<{ rows: Array<{ id: string }> }> {
  const cols = (f: (d: NewDelivery) => unknown) => rows.map(f);
  return db.query(
    `INSERT INTO deliveries (id, hook, forge, repo_id, forge_delivery_id, event_header, source_address,
       headers, body, body_sha256, status, reason, events, received_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
       $8::jsonb[], $9::bytea[], $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::timestamptz[])
     ${onConflict} RETURNING id`,
    [cols((d) => d.id), cols((d) => d.hook), cols((d) => d.forge), cols((d) => d.repoId), cols((d) => d.forgeDeliveryId),
      cols((d) => d.eventHeader), cols((d) => d.sourceAddress), cols((d) => JSON.stringify(d.headers)), cols((d) => d.body),
      cols((d) => d.bodySha256), cols((d) => d.status), cols((d) => d.reason), cols((d) => JSON.stringify(d.events)), cols((d) => d.receivedAt)]);
}

async function markDuplicate(db: Queryable, id: string, reason: string): Promise<void> {
  await db.query(`UPDATE deliveries SET status = 'duplicate', reason = $2 WHERE id = $1`, [id, reason]);
}

/**
 * Stores a batch of deliveries in the caller's transaction, applying the
 * duplicate rules of SPEC.md §3 to those offered as `accepted`: a forge
 * delivery id accepted before, the same body for the repository in the last
 * 30 days, or push and tag updates that were all planned before. The answer
 * gives each delivery's final status, in order.
 */
export async function storeDeliveries(db: Queryable, batch: NewDelivery[]): Promise<Stored[]> {
  const result = new Map<string, Stored>(batch.map((d) => [d.id, { id: d.id, status: d.status, reason: d.reason }]));
  const offered = batch.filter((d) => d.status === 'accepted');
  const others = batch.filter((d) => d.status !== 'accepted');

  if (offered.length) {
    // Concurrent batches with the same body serialize here (sorted: no deadlock).
    await db.query('SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM (SELECT DISTINCT unnest($1::text[]) AS k ORDER BY 1) s',
      [offered.map((d) => `${d.repoId}:${d.bodySha256}`)]);
    for (const d of offered) await settlePullRequestHeads(db, d.repoId, d);
    const inserted = new Set((await insertRows(db, offered,
      `ON CONFLICT (forge, forge_delivery_id) WHERE status = 'accepted' DO NOTHING`)).rows.map((r) => r.id));
    const repeatedIds = offered.filter((d) => !inserted.has(d.id)).map((d) => ({ ...d, status: 'duplicate' as const, reason: `delivery id ${d.forgeDeliveryId} was seen before` }));
    for (const d of repeatedIds) result.set(d.id, { id: d.id, status: 'duplicate', reason: d.reason });
    others.push(...repeatedIds);

    const fresh = offered.filter((d) => inserted.has(d.id));
    const { rows: sameBody } = await db.query<{ id: string; repo_id: string; body_sha256: string }>(
      `SELECT id, repo_id, body_sha256 FROM deliveries
       WHERE status = 'accepted' AND received_at > now() - interval '30 days' AND id <> ALL($3::text[])
         AND (repo_id, body_sha256) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
      [fresh.map((d) => d.repoId), fresh.map((d) => d.bodySha256), fresh.map((d) => d.id)]);
    const seenBody = new Map(sameBody.map((r) => [`${r.repo_id}:${r.body_sha256}`, r.id]));
    for (const d of fresh) {
      const key = `${d.repoId}:${d.bodySha256}`;
      const earlier = seenBody.get(key);
      if (earlier) {
        await markDuplicate(db, d.id, `same body as delivery ${earlier}`);
        result.set(d.id, { id: d.id, status: 'duplicate', reason: `same body as delivery ${earlier}` });
        continue;
      }
      seenBody.set(key, d.id);
      if (!d.refUpdates.length) continue;
      const { rows: claimed } = await db.query(
        `INSERT INTO ref_updates (repo_id, ref, sha, delivery_id)
         SELECT $1, ref, sha, $4 FROM unnest($2::text[], $3::text[]) AS u(ref, sha)
         ON CONFLICT DO NOTHING RETURNING ref`,
        [d.repoId, d.refUpdates.map((u) => u.ref), d.refUpdates.map((u) => u.sha), d.id]);
      if (claimed.length === 0) {
        const reason = `${d.refUpdates.map((u) => `${u.ref} at ${u.sha.slice(0, 12)}`).join(', ')} already planned`;
        await markDuplicate(db, d.id, reason);
        result.set(d.id, { id: d.id, status: 'duplicate', reason });
      }
    }
  }
  if (others.length) await insertRows(db, others, '');
  return batch.map((d) => result.get(d.id)!);
}

/** Whether this delivery is the one that claimed (ref, sha): a later one brought it again. */
export async function claimedRefUpdate(db: Queryable, repoId: string, ref: string, sha: string): Promise<string | null> {
  const { rows } = await db.query<{ delivery_id: string }>(
    'SELECT delivery_id FROM ref_updates WHERE repo_id = $1 AND ref = $2 AND sha = $3', [repoId, ref, sha]);
  return rows[0]?.delivery_id ?? null;
}

/** Records a pull request's head and answers the one seen before it (null: none). */
export async function swapPullRequestHead(db: Queryable, repoId: string, number: number, headSha: string): Promise<string | null> {
  // The row lock makes concurrent transactions for one pull request take turns, in commit order.
  const { rows } = await db.query<{ head_sha: string }>(
    'SELECT head_sha FROM pull_request_heads WHERE repo_id = $1 AND number = $2 FOR UPDATE', [repoId, number]);
  await db.query(
    `INSERT INTO pull_request_heads (repo_id, number, head_sha) VALUES ($1, $2, $3)
     ON CONFLICT (repo_id, number) DO UPDATE SET head_sha = EXCLUDED.head_sha, updated_at = now()`,
    [repoId, number, headSha]);
  return rows[0]?.head_sha ?? null;
}

const COLUMNS = `d.id, d.hook, d.forge, d.repo_id AS "repoId", r.name AS repo, d.forge_delivery_id AS "forgeDeliveryId",
  d.event_header AS "eventHeader", d.received_at AS "receivedAt", d.headers, d.status, d.reason, d.events, d.explain`;

export async function getDelivery(db: Queryable, id: string): Promise<Delivery | null> {
  const { rows } = await db.query<Delivery>(
    `SELECT ${COLUMNS} FROM deliveries d LEFT JOIN repos r ON r.id = d.repo_id WHERE d.id = $1`, [id]);
  return rows[0] ?? null;
}

export async function deliveryBody(db: Queryable, id: string): Promise<Buffer | null> {
  const { rows } = await db.query<{ body: Buffer }>('SELECT body FROM deliveries WHERE id = $1', [id]);
  return rows[0]?.body ?? null;
}

export async function setDeliveryExplain(db: Queryable, id: string, events: unknown[], explain: unknown[]): Promise<void> {
  await db.query('UPDATE deliveries SET events = $2, explain = $3 WHERE id = $1', [id, JSON.stringify(events), JSON.stringify(explain)]);
}

/** Newest first; `before` is the cursor (the received_at and id of the last item seen). */
export async function listDeliveries(db: Queryable, opts: { repoId?: string | null; limit: number; before?: { at: Date; id: string } | null }): Promise<Delivery[]> {
  const { rows } = await db.query<Delivery>(
    `SELECT ${COLUMNS} FROM deliveries d LEFT JOIN repos r ON r.id = d.repo_id
     WHERE ($1::text IS NULL OR d.repo_id = $1)
       AND ($2::timestamptz IS NULL OR (d.received_at, d.id) < ($2, $3))
     ORDER BY d.received_at DESC, d.id DESC LIMIT $4`,
    [opts.repoId ?? null, opts.before?.at ?? null, opts.before?.id ?? null, opts.limit]);
  return rows;
}

/** A copy of a stored delivery, accepted as new: the one way past the duplicate rules (replay). */
export async function copyForReplay(db: Queryable, originalId: string, newId: string, actor: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `INSERT INTO deliveries (id, hook, forge, repo_id, forge_delivery_id, event_header, source_address,
       headers, body, body_sha256, status, reason, events)
     SELECT $2, hook, forge, repo_id, 'replay:' || $2, event_header, source_address,
       headers, body, body_sha256, 'accepted', 'replay of ' || id || ' by ' || $3, events
     FROM deliveries WHERE id = $1 AND repo_id IS NOT NULL`,
    [originalId, newId, actor]);
  return rowCount === 1;
}

import { statementName, type Queryable } from './db.ts';

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

/**
 * Batches committed side by side still settle pull request heads in arrival
 * order: each waits for the previous batch to have locked its heads (held to
 * its commit) before locking its own.
 */
export interface SettleTurn {
  wait: Promise<void>;
  done: () => void;
}

const NO_WAIT: SettleTurn = { wait: Promise.resolve(), done: () => {} };

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

const DELIVERY_COLUMNS = ['id', 'hook', 'forge', 'repo_id', 'forge_delivery_id', 'event_header', 'source_address',
  'headers', 'body', 'body_sha256', 'status', 'reason', 'events', 'received_at'];

/**
 * One multi-row insert. Parameters rather than arrays: node-postgres sends a
 * Buffer parameter as binary, where an array of bodies would be hex text.
 */
function insertStatement(rows: NewDelivery[]): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const tuples = rows.map((d) => {
    const base = values.length;
    values.push(d.id, d.hook, d.forge, d.repoId, d.forgeDeliveryId, d.eventHeader, d.sourceAddress,
      JSON.stringify(d.headers), d.body, d.bodySha256, d.status, d.reason, JSON.stringify(d.events), d.receivedAt);
    return `(${DELIVERY_COLUMNS.map((_, i) => `$${base + i + 1}`).join(', ')})`;
  });
  return { text: `INSERT INTO deliveries (${DELIVERY_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`, values };
}

/**
 * Stores a batch of deliveries in the caller's transaction, applying the
 * duplicate rules of SPEC.md §3 to those offered as `accepted`: a forge
 * delivery id accepted before, the same body for the repository in the last
 * 30 days, or push and tag updates that were all planned before. The answer
 * gives each delivery's final status, in order.
 *
 * The hook path waits on this, so the common case is one statement: insert
 * the batch, claim its bodies and its ref updates together.
 */
export async function storeDeliveries(db: Queryable, batch: NewDelivery[], turn: SettleTurn = NO_WAIT): Promise<Stored[]> {
  const result = new Map<string, Stored>(batch.map((d) => [d.id, { id: d.id, status: d.status, reason: d.reason }]));
  const duplicate = (id: string, reason: string) => result.set(id, { id, status: 'duplicate', reason });
  const offered = batch.filter((d) => d.status === 'accepted');
  const others = batch.filter((d) => d.status !== 'accepted');

  if (offered.length) {
    await turn.wait;
    try {
      for (const d of offered) await settlePullRequestHeads(db, d.repoId, d);
    } finally {
      turn.done();
    }

    // The same body twice within the batch: the later copy is a duplicate of the first.
    const firstOfBody = new Map<string, string>();
    for (const d of offered) {
      const key = `${d.repoId}:${d.bodySha256}`;
      if (!firstOfBody.has(key)) firstOfBody.set(key, d.id);
    }
    const firsts = [...firstOfBody.values()];
    const updates = offered
      .filter((d) => firstOfBody.get(`${d.repoId}:${d.bodySha256}`) === d.id)
      .flatMap((d) => d.refUpdates.map((u) => ({ ...u, repoId: d.repoId, deliveryId: d.id })));
    const insert = insertStatement(offered);
    const n = insert.values.length;
    // The first delivery of a body claims it for 30 days (a claim older than that is taken over);
    // a delivery whose claim conflicts is a duplicate. Claims are made in key order: concurrent
    // batches wait on each other's keys without deadlocking, and the one that commits first wins.
    const text = `WITH ins AS (${insert.text} ON CONFLICT (forge, forge_delivery_id) WHERE status = 'accepted' DO NOTHING
                    RETURNING id, repo_id, body_sha256, received_at),
       earlier AS (SELECT i.id, b.delivery_id AS earlier FROM ins i
                   JOIN body_claims b ON b.repo_id = i.repo_id AND b.body_sha256 = i.body_sha256),
       body AS (INSERT INTO body_claims (repo_id, body_sha256, delivery_id, claimed_at)
                SELECT repo_id, body_sha256, id, received_at FROM ins
                WHERE repo_id IS NOT NULL AND id = ANY($${n + 5}::text[]) ORDER BY repo_id, body_sha256
                ON CONFLICT (repo_id, body_sha256) DO UPDATE
                  SET delivery_id = EXCLUDED.delivery_id, claimed_at = EXCLUDED.claimed_at
                  WHERE body_claims.claimed_at <= now() - interval '30 days'
                RETURNING delivery_id),
       claim AS (INSERT INTO ref_updates (repo_id, ref, sha, delivery_id)
                 SELECT u.* FROM unnest($${n + 1}::text[], $${n + 2}::text[], $${n + 3}::text[], $${n + 4}::text[]) AS u(repo_id, ref, sha, delivery_id)
                 WHERE u.delivery_id IN (SELECT delivery_id FROM body)
                 ON CONFLICT DO NOTHING RETURNING delivery_id)
       SELECT 'inserted' AS kind, id, NULL AS earlier FROM ins
       UNION ALL SELECT 'body', delivery_id, NULL FROM body
       UNION ALL SELECT 'earlier', id, earlier FROM earlier
       UNION ALL SELECT 'claimed', delivery_id, NULL FROM claim`;
    // One text per batch size: prepared once per connection, it is parsed and planned once.
    const { rows } = await db.query<{ kind: 'inserted' | 'body' | 'earlier' | 'claimed'; id: string; earlier: string | null }>({
      name: statementName('store-deliveries', text), text,
      values: [...insert.values, updates.map((u) => u.repoId), updates.map((u) => u.ref), updates.map((u) => u.sha), updates.map((u) => u.deliveryId), firsts],
    });

    const inserted = new Set(rows.filter((r) => r.kind === 'inserted').map((r) => r.id));
    const bodyClaimers = new Set(rows.filter((r) => r.kind === 'body').map((r) => r.id));
    const earlierOf = new Map(rows.filter((r) => r.kind === 'earlier').map((r) => [r.id, r.earlier!]));
    const claimers = new Set(rows.filter((r) => r.kind === 'claimed').map((r) => r.id));
    const demoted: Array<{ id: string; reason: string }> = [];
    for (const d of offered) {
      if (!inserted.has(d.id)) {
        const reason = `delivery id ${d.forgeDeliveryId} was seen before`;
        duplicate(d.id, reason);
        others.push({ ...d, status: 'duplicate', reason });
        continue;
      }
      const first = firstOfBody.get(`${d.repoId}:${d.bodySha256}`)!;
      if (first !== d.id) {
        // Named after the delivery that holds the body: the batch's first copy, or the one before it.
        const owner = bodyClaimers.has(first) ? first : earlierOf.get(first) ?? first;
        demoted.push({ id: d.id, reason: `same body as delivery ${owner}` });
      } else if (d.repoId && !bodyClaimers.has(d.id)) {
        // The claim seen before this statement names the earlier delivery; one committed meanwhile is not in that view.
        demoted.push({ id: d.id, reason: `same body as delivery ${earlierOf.get(d.id) ?? 'received moments before'}` });
      } else if (d.refUpdates.length && !claimers.has(d.id)) {
        demoted.push({ id: d.id, reason: `${d.refUpdates.map((u) => `${u.ref} at ${u.sha.slice(0, 12)}`).join(', ')} already planned` });
      }
    }
    if (demoted.length) {
      await db.query(
        `UPDATE deliveries d SET status = 'duplicate', reason = x.reason
         FROM unnest($1::text[], $2::text[]) AS x(id, reason) WHERE d.id = x.id`,
        [demoted.map((x) => x.id), demoted.map((x) => x.reason)]);
      for (const x of demoted) duplicate(x.id, x.reason);
    }
  }
  if (others.length) {
    const insert = insertStatement(others);
    await db.query(insert.text, insert.values);
  }
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

/**
 * Accepted deliveries with events that were received between a day and
 * `olderThanSeconds` ago and never planned, oldest first.
 */
export async function unplannedDeliveries(db: Queryable, olderThanSeconds: number, limit: number): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>(
    `SELECT id FROM deliveries
     WHERE status = 'accepted' AND explain = '[]' AND repo_id IS NOT NULL AND jsonb_array_length(events) > 0
       AND received_at < now() - make_interval(secs => $1) AND received_at > now() - interval '1 day'
     ORDER BY received_at LIMIT $2`,
    [olderThanSeconds, limit]);
  return rows.map((r) => r.id);
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

/** Whether a forge delivery id was ever received for the forge (any outcome). */
export async function seenDeliveryId(db: Queryable, forge: string, forgeDeliveryId: string): Promise<boolean> {
  const { rows } = await db.query('SELECT 1 FROM deliveries WHERE forge = $1 AND forge_delivery_id = $2 LIMIT 1', [forge, forgeDeliveryId]);
  return rows.length > 0;
}

/** The last commit planned for each branch of a repository (from the ref updates seen). */
export async function lastSeenHeads(db: Queryable, repoId: string): Promise<Map<string, string>> {
  const { rows } = await db.query<{ ref: string; sha: string }>(
    `SELECT DISTINCT ON (ref) ref, sha FROM ref_updates WHERE repo_id = $1 AND ref LIKE 'refs/heads/%' ORDER BY ref, created_at DESC`, [repoId]);
  return new Map(rows.map((r) => [r.ref.slice('refs/heads/'.length), r.sha]));
}

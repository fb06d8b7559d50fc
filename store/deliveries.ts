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

/** A pull request event whose head is recorded as it is stored: every one but a close or merge. */
const recordsHead = (e: PullRequestEvent): e is PullRequestEvent & { pullRequest: { number: number; headSha: string } } =>
  e.pullRequest !== null && e.pullRequest !== undefined && e.action !== 'closed' && e.action !== 'merged';

/**
 * Records the head of every open pull request event, in arrival order (the
 * row lock serializes concurrent batches), and settles `synchronize` versus
 * `edited` where the payload could not say.
 */
async function settlePullRequestHeads(db: Queryable, repoId: string | null, d: NewDelivery): Promise<void> {
  if (!repoId) return;
  for (const event of (d.events as PullRequestEvent[]).filter(recordsHead)) {
    const pr = event.pullRequest;
    const previous = await swapPullRequestHead(db, repoId, pr.number, pr.headSha);
    if (d.actionFromHead && event.action === 'synchronize' && previous === pr.headSha) event.action = 'edited';
  }
}

/**
 * What a stored delivery's JSON columns hold: declared by
 * scheduler/run-documents.ts, as for runs (store/runs.ts, RunDocuments).
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface DeliveryDocuments {}
type Document<K extends string> = DeliveryDocuments extends Record<K, infer T> ? T : unknown;

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
  events: Array<Document<'event'>>;
  explain: Array<Document<'explain'>>;
}

export interface Stored {
  id: string;
  status: DeliveryStatus;
  reason: string | null;
}

const DELIVERY_COLUMNS = ['id', 'hook', 'forge', 'repo_id', 'forge_delivery_id', 'event_header', 'source_address',
  'headers', 'body', 'body_sha256', 'status', 'reason', 'events', 'received_at'];
const COLUMN_TYPES = ['text', 'text', 'text', 'text', 'text', 'text', 'text', 'jsonb', 'bytea', 'text', 'text', 'text', 'jsonb', 'timestamptz'];

/**
 * A job inserted by the batch's own statement, so that the deliveries and
 * the job that plans them commit together in one round trip (scheduler/
 * queues.ts builds pg-boss's).
 */
export interface InlineJob {
  /** CTEs inserting one job whose data is `dataSql` (jsonb; no job when it is NULL), parameters numbered from `first`. */
  ctes(dataSql: string, first: number): { text: string; values: unknown[] };
  /** A scalar expression the statement reads, so that every one of those CTEs runs. */
  touch: string;
}

/** Whether storing this batch takes more than its one statement: pull request heads are settled first. */
export function needsTransaction(batch: NewDelivery[]): boolean {
  return batch.some((d) => d.status === 'accepted' && d.repoId
    && (d.events as PullRequestEvent[]).some(recordsHead));
}

/**
 * Stores a batch of deliveries, applying the duplicate rules of docs/api.md, "Hooks"
 * to those offered as `accepted`: a forge delivery id accepted before (or
 * earlier in the batch), the same body for the repository in the last 30
 * days, or push and tag updates that were all planned before. The answer
 * gives each delivery's final status, in order.
 *
 * The hook path waits on this, so it is one statement: it claims the bodies
 * and ref updates, inserts every delivery with the status those claims
 * decide, and inserts `job` with the accepted ids. Run on the pool, that
 * statement is its own transaction: nothing is stored unless all of it is.
 * A batch for which `needsTransaction` holds must be given a transaction.
 */
export async function storeDeliveries(db: Queryable, batch: NewDelivery[], opts: { turn?: SettleTurn; job?: InlineJob } = {}): Promise<Stored[]> {
  const turn = opts.turn ?? NO_WAIT;
  await turn.wait;
  try {
    for (const d of batch) if (d.status === 'accepted') await settlePullRequestHeads(db, d.repoId, d);
  } finally {
    turn.done();
  }
  const { text, values } = storeStatement(batch, opts.job);
  // One text per batch size: prepared once per connection, it is parsed and planned once.
  const result = await db.query<Stored>({ name: statementName('store-deliveries', text), text, values });
  const byId = new Map(result.rows.map((r) => [r.id, r]));
  return batch.map((d) => ({ id: d.id, status: byId.get(d.id)!.status, reason: byId.get(d.id)!.reason }));
}

/** The one statement of `storeDeliveries`: its text depends on the batch's size alone. */
export function storeStatement(batch: NewDelivery[], inlineJob?: InlineJob): { text: string; values: unknown[] } {
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  // A parameter per value rather than arrays: node-postgres sends a Buffer parameter as
  // binary, where an array of bodies would be hex text.
  const rows = batch.map((d, i) => {
    const row = [d.id, d.hook, d.forge, d.repoId, d.forgeDeliveryId, d.eventHeader, d.sourceAddress,
      JSON.stringify(d.headers), d.body, d.bodySha256, d.status, d.reason, JSON.stringify(d.events), d.receivedAt];
    return `(${i}, ${row.map((v, c) => `${param(v)}::${COLUMN_TYPES[c]}`).join(', ')})`;
  });
  const updates = batch.filter((d) => d.status === 'accepted').flatMap((d) => d.refUpdates.map((u) => ({ ...u, deliveryId: d.id })));
  const refArrays = `${param(updates.map((u) => u.deliveryId))}::text[], ${param(updates.map((u) => u.ref))}::text[], ${param(updates.map((u) => u.sha))}::text[]`;
  const job = inlineJob?.ctes(`(SELECT jsonb_build_object('deliveryIds', jsonb_agg(id ORDER BY ord)) FROM decided WHERE final = 'accepted' HAVING count(*) > 0)`, values.length + 1);
  if (job) values.push(...job.values);
  // The lookups of earlier deliveries and claims are scalar subqueries, run once per row
  // through the unique index: as joins, a plan prepared while the tables were nearly empty
  // scanned every accepted delivery for each row (ingest slowed as deliveries accumulated).
  // fresh: offered, and its delivery id neither accepted before nor earlier in the batch.
  // firsts: the first fresh delivery of each body; it claims the body for 30 days (a claim
  // older than that is taken over), in key order, so concurrent batches wait on each other's
  // keys without deadlocking and the one that commits first wins. Only a body's claimer
  // claims its ref updates. A delivery id accepted by a batch committed meanwhile fails the
  // statement on the unique index; the caller runs it again.
  const text = `WITH input (ord, ${DELIVERY_COLUMNS.join(', ')}) AS (VALUES ${rows.join(', ')}),
    refs AS (SELECT * FROM unnest(${refArrays}) WITH ORDINALITY AS u(delivery_id, ref, sha, n)),
    fresh AS (SELECT DISTINCT ON (forge, forge_delivery_id) * FROM input i
              WHERE status = 'accepted' AND (SELECT d.id FROM deliveries d
                WHERE d.forge = i.forge AND d.forge_delivery_id = i.forge_delivery_id AND d.status = 'accepted') IS NULL
              ORDER BY forge, forge_delivery_id, ord),
    firsts AS (SELECT DISTINCT ON (repo_id, body_sha256) id, repo_id, body_sha256, received_at FROM fresh
               WHERE repo_id IS NOT NULL ORDER BY repo_id, body_sha256, ord),
    earlier AS (SELECT f.id, (SELECT b.delivery_id FROM body_claims b
                  WHERE b.repo_id = f.repo_id AND b.body_sha256 = f.body_sha256) AS earlier FROM firsts f),
    body AS (INSERT INTO body_claims (repo_id, body_sha256, delivery_id, claimed_at)
             SELECT repo_id, body_sha256, id, received_at FROM firsts ORDER BY repo_id, body_sha256
             ON CONFLICT (repo_id, body_sha256) DO UPDATE
               SET delivery_id = EXCLUDED.delivery_id, claimed_at = EXCLUDED.claimed_at
               WHERE body_claims.claimed_at <= now() - interval '30 days'
             RETURNING delivery_id),
    claim AS (INSERT INTO ref_updates (repo_id, ref, sha, delivery_id)
              SELECT f.repo_id, u.ref, u.sha, u.delivery_id FROM refs u JOIN firsts f ON f.id = u.delivery_id
              WHERE u.delivery_id IN (SELECT delivery_id FROM body)
              ON CONFLICT DO NOTHING RETURNING delivery_id),
    verdict AS MATERIALIZED (SELECT i.ord, CASE
        WHEN i.status <> 'accepted' THEN NULL
        WHEN NOT EXISTS (SELECT 1 FROM fresh WHERE fresh.id = i.id) THEN 'delivery id ' || i.forge_delivery_id || ' was seen before'
        WHEN i.repo_id IS NULL THEN NULL
        WHEN NOT EXISTS (SELECT 1 FROM firsts WHERE firsts.id = i.id) THEN (
          -- Named after the delivery that holds the body: the batch's first copy, or the one before it.
          SELECT 'same body as delivery ' || CASE WHEN f.id IN (SELECT delivery_id FROM body) THEN f.id
                                                  ELSE COALESCE((SELECT earlier FROM earlier WHERE earlier.id = f.id), f.id) END
          FROM firsts f WHERE f.repo_id = i.repo_id AND f.body_sha256 = i.body_sha256)
        -- The claim seen before this statement names the earlier delivery; one committed meanwhile is not in that view.
        WHEN i.id NOT IN (SELECT delivery_id FROM body)
          THEN 'same body as delivery ' || COALESCE((SELECT earlier FROM earlier WHERE earlier.id = i.id), 'received moments before')
        WHEN EXISTS (SELECT 1 FROM refs u WHERE u.delivery_id = i.id) AND i.id NOT IN (SELECT delivery_id FROM claim)
          THEN (SELECT string_agg(u.ref || ' at ' || left(u.sha, 12), ', ' ORDER BY u.n) FROM refs u
                WHERE u.delivery_id = i.id) || ' already planned'
      END AS duplicate FROM input i),
    decided AS (SELECT i.*, CASE WHEN v.duplicate IS NULL THEN i.status ELSE 'duplicate' END AS final,
                       COALESCE(v.duplicate, i.reason) AS final_reason
                FROM input i JOIN verdict v USING (ord)),
    ins AS (INSERT INTO deliveries (${DELIVERY_COLUMNS.join(', ')})
            SELECT ${DELIVERY_COLUMNS.map((c) => (c === 'status' ? 'final' : c === 'reason' ? 'final_reason' : c)).join(', ')} FROM decided
            RETURNING id, status, reason)${job ? `,\n    ${job.text}` : ''}
    SELECT id, status, reason${job ? `, ${inlineJob!.touch} AS job` : ''} FROM ins`;
  return { text, values };
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

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
  headers: Record<string, string>;
  body: Buffer;
  bodySha256: string;
  status: DeliveryStatus;
  reason: string | null;
  events: unknown[];
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

const INSERT = `INSERT INTO deliveries (id, hook, forge, repo_id, forge_delivery_id, event_header, source_address,
  headers, body, body_sha256, status, reason, events) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`;

function values(d: NewDelivery, status: DeliveryStatus, reason: string | null): unknown[] {
  return [d.id, d.hook, d.forge, d.repoId, d.forgeDeliveryId, d.eventHeader, d.sourceAddress,
    JSON.stringify(d.headers), d.body, d.bodySha256, status, reason, JSON.stringify(d.events)];
}

/**
 * Stores a delivery. An `accepted` one whose forge delivery id was accepted
 * before is stored as `duplicate` instead; the answer says which it became.
 */
export async function insertDelivery(db: Queryable, d: NewDelivery): Promise<DeliveryStatus> {
  if (d.status !== 'accepted') {
    await db.query(INSERT, values(d, d.status, d.reason));
    return d.status;
  }
  const inserted = await db.query(
    `${INSERT} ON CONFLICT (forge, forge_delivery_id) WHERE status = 'accepted' DO NOTHING`, values(d, 'accepted', d.reason));
  if (inserted.rowCount === 1) return 'accepted';
  await db.query(INSERT, values(d, 'duplicate', `delivery id ${d.forgeDeliveryId} was seen before`));
  return 'duplicate';
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

/** Newest first; `before` is the cursor (the received_at/id of the last item seen). */
export async function listDeliveries(db: Queryable, opts: { repoId?: string | null; limit: number; before?: { at: Date; id: string } | null }): Promise<Delivery[]> {
  const { rows } = await db.query<Delivery>(
    `SELECT ${COLUMNS} FROM deliveries d LEFT JOIN repos r ON r.id = d.repo_id
     WHERE ($1::text IS NULL OR d.repo_id = $1)
       AND ($2::timestamptz IS NULL OR (d.received_at, d.id) < ($2, $3))
     ORDER BY d.received_at DESC, d.id DESC LIMIT $4`,
    [opts.repoId ?? null, opts.before?.at ?? null, opts.before?.id ?? null, opts.limit]);
  return rows;
}

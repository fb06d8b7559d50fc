import type { Queryable } from './db.ts';

export interface AuditEntry {
  hook?: string | null;
  sourceAddress?: string | null;
  actor?: string | null;
  action: string;
  reason?: string | null;
}

export async function audit(db: Queryable, e: AuditEntry): Promise<void> {
  await db.query('INSERT INTO audit_log (hook, source_address, actor, action, reason) VALUES ($1, $2, $3, $4, $5)',
    [e.hook ?? null, e.sourceAddress ?? null, e.actor ?? null, e.action, e.reason ?? null]);
}

export async function recentAudit(db: Queryable, limit = 50): Promise<Array<AuditEntry & { at: Date }>> {
  const { rows } = await db.query(
    `SELECT at, hook, source_address AS "sourceAddress", actor, action, reason FROM audit_log ORDER BY id DESC LIMIT $1`, [limit]);
  return rows;
}

// A flood of requests that fail before verification: the audit log must not
// grow with it, and refusals by source address are rate-limited like the rest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerRepo } from '../../ingest/index.ts';
import { startForgeline, type TestForgeline } from '../helpers/forgeline.ts';
import { postFrom } from '../helpers/post-from.ts';

/** `count` POSTs from one address, twenty at a time; how many got each status. */
async function flood(from: string, url: string, count: number, headers: Record<string, string>): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let sent = 0;
  await Promise.all(Array.from({ length: 20 }, async () => {
    while (sent < count) {
      sent++;
      const status = await postFrom(from, url, headers, '{}');
      statuses[status] = (statuses[status] ?? 0) + 1;
    }
  }));
  return statuses;
}

describe('a flood of refused hook requests', () => {
  let forgeline: TestForgeline;
  const auditRows = async () => Number((await forgeline.runtime.db.pool.query("SELECT count(*) FROM audit_log WHERE action LIKE 'hook.refused.%'")).rows[0].count);

  beforeAll(async () => { forgeline = await startForgeline({ workers: 0 }); });
  afterAll(() => forgeline?.stop());

  it('writes at most 20 audit rows for 2,000 rejected requests, counting the rest', async () => {
    const before = await auditRows();
    const statuses = await flood('127.0.0.1', `${forgeline.url}/hooks/not-a-hook-${'x'.repeat(20)}`, 2000, { 'content-type': 'application/json' });
    expect(statuses[404]! + statuses[429]!).toBe(2000);
    expect(statuses[429]).toBeGreaterThan(1900);
    expect(await auditRows() - before).toBeLessThanOrEqual(20);
    const metrics = await fetch(`${forgeline.url}/metrics`).then((r) => r.text());
    expect(metrics).toMatch(/forgeline_hook_refusals_unaudited_total\{forge="unknown",outcome="429"\} \d{4}/);
  });

  it('rate-limits refusals of addresses outside --allow-cidr too', async () => {
    const hook = await registerRepo(
      { pool: forgeline.runtime.db.pool, box: forgeline.runtime.deps.box, publicUrl: forgeline.url, urls: forgeline.config.urls },
      { forge: 'github', name: 'acme/fenced', cloneUrl: 'file:///nowhere.git', apiUrl: 'http://127.0.0.1:9', allowCidrs: ['192.0.2.0/24'] }, 'test');
    const before = await auditRows();
    // From 127.0.0.2: an address of its own, with a full bucket.
    const statuses = await flood('127.0.0.2', hook.hookUrl, 300, { 'content-type': 'application/json', 'x-github-event': 'push' });
    expect(statuses[403]).toBeLessThanOrEqual(60);
    expect(statuses[429]).toBeGreaterThanOrEqual(240);
    expect(await auditRows() - before).toBeLessThanOrEqual(20);
  });
});

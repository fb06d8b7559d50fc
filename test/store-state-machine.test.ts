// The run state machine: every (from, to) pair of stage states is tried
// against the real database, which allows exactly the table's transitions.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, migrate, runs, STAGE_TRANSITIONS, type Pool } from '../store/index.ts';
import type { StageStatus } from '../store/runs.ts';
import { freshDatabase, type TestDatabase } from './helpers/database.ts';

const STATES: StageStatus[] = ['queued', 'waiting', 'running', 'success', 'failure', 'canceled', 'skipped'];

let database: TestDatabase;
let pool: Pool;
let repoId: string;

beforeAll(async () => {
  database = await freshDatabase();
  pool = createPool(database.url, 2);
  await migrate(pool);
  repoId = 'r_state_machine';
  await pool.query(`INSERT INTO repos (id, forge, name, clone_url, api_url, hook_id) VALUES ($1, 'github', 'acme/states', 'file:///x.git', 'http://127.0.0.1:9', 'h_states')`, [repoId]);
});

afterAll(async () => {
  await pool?.end();
  await database?.drop();
});

/** A run with one stage in `status`. */
async function stageIn(status: StageStatus): Promise<number> {
  const id = await runs.insertRun(pool, {
    repoId, deliveryId: null, eventIndex: 0, pipeline: `p-${Math.random()}`, file: '.forgeline/p.yml', event: { kind: 'manual' }, sha: 'a'.repeat(40),
    definition: null, status: 'queued', stages: [{ name: 's', needs: [], status: 'queued', reason: null }],
  });
  await pool.query('ALTER TABLE stages DISABLE TRIGGER stage_transition');
  try {
    await pool.query('UPDATE stages SET status = $2 WHERE run_id = $1', [id, status]);
  } finally {
    await pool.query('ALTER TABLE stages ENABLE TRIGGER stage_transition');
  }
  return id!;
}

describe('the stage state machine', () => {
  it('is the table docs/architecture.md shows', () => {
    const doc = readFileSync(new URL('../docs/architecture.md', import.meta.url), 'utf8');
    const table = doc.slice(doc.indexOf('<!-- stage-transitions -->'), doc.indexOf('<!-- /stage-transitions -->'));
    const rows = table.split('\n').filter((l) => /^\| [a-z]+ \| [a-z]+ \|/.test(l) && !l.startsWith('| from |')).map((l) => l.split('|').slice(1, 4).map((c) => c.trim()));
    expect(rows).toEqual(STAGE_TRANSITIONS.map((t) => [t.from, t.to, t.by.join(', ')]));
  });

  it('is the table the database checks against', async () => {
    const { rows } = await pool.query('SELECT from_status, to_status FROM stage_transitions ORDER BY 1, 2');
    expect(rows.map((r) => `${r.from_status}->${r.to_status}`)).toEqual(STAGE_TRANSITIONS.map((t) => `${t.from}->${t.to}`).sort());
  });

  const pairs = STATES.flatMap((from) => STATES.filter((to) => to !== from).map((to) => [from, to] as const));
  it.each(pairs)('%s -> %s is allowed exactly when the table has it', async (from, to) => {
    const id = await stageIn(from);
    const allowed = STAGE_TRANSITIONS.some((t) => t.from === from && t.to === to);
    const update = pool.query('UPDATE stages SET status = $2 WHERE run_id = $1', [id, to]);
    if (allowed) await expect(update).resolves.toBeTruthy();
    else await expect(update).rejects.toThrow(`stage s of run ${id} cannot go from ${from} to ${to}`);
  });

  it('knows every status it names, and no other', async () => {
    const id = await stageIn('queued');
    await expect(pool.query(`UPDATE stages SET status = 'paused' WHERE run_id = $1`, [id])).rejects.toThrow(/stages_status_known|cannot go/);
    await expect(pool.query(`UPDATE runs SET status = 'paused' WHERE id = $1`, [id])).rejects.toThrow(/runs_status_known/);
    await expect(pool.query(`UPDATE stages SET waiting_for = 'coffee' WHERE run_id = $1`, [id])).rejects.toThrow(/stages_waiting_for_known/);
  });
});

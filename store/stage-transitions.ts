import type { Queryable } from './db.ts';
import type { StageStatus } from './runs.ts';

/** Who moves a stage: the parts of Forgeline that change stage states. */
export type Cause =
  | 'planner' // decides a stage when its needs are done (`needs`, `if`)
  | 'gate' // lets a stage start, holds it, or refuses it an environment (scheduler/gates.ts)
  | 'release' // ends a wait: an approval, a freed lock or group, a worker with the labels
  | 'worker' // claims, runs, finishes, retries or gives back a stage
  | 'reaper' // fails the stage of a worker that was lost
  | 'cancel' // a user, a newer run of a concurrency group or a newer deployment, a closed pull request
  | 'rerun'; // a user runs finished stages again, at their next attempt

export interface StageTransition {
  from: StageStatus;
  to: StageStatus;
  by: Cause[];
}

const FINAL: StageStatus[] = ['success', 'failure', 'canceled', 'skipped'];

/**
 * Every change of a stage's status, and who may cause it (docs/architecture.md,
 * "The run state machine"). The database refuses any other change (migration
 * 017's trigger reads this table, written by `migrate`). A run's own status is
 * derived from its stages' (scheduler/run-status.ts).
 */
export const STAGE_TRANSITIONS: readonly StageTransition[] = [
  { from: 'queued', to: 'waiting', by: ['gate'] },
  { from: 'waiting', to: 'queued', by: ['release'] },
  { from: 'queued', to: 'running', by: ['worker'] },
  { from: 'waiting', to: 'running', by: ['worker'] },
  { from: 'running', to: 'queued', by: ['worker'] },
  { from: 'running', to: 'success', by: ['worker'] },
  { from: 'running', to: 'failure', by: ['worker', 'reaper'] },
  { from: 'running', to: 'canceled', by: ['cancel', 'worker'] },
  { from: 'queued', to: 'skipped', by: ['planner', 'gate'] },
  { from: 'queued', to: 'failure', by: ['planner', 'gate'] },
  { from: 'waiting', to: 'skipped', by: ['gate'] },
  { from: 'waiting', to: 'failure', by: ['gate'] },
  { from: 'queued', to: 'canceled', by: ['cancel'] },
  { from: 'waiting', to: 'canceled', by: ['cancel'] },
  ...FINAL.map((from) => ({ from, to: 'queued' as const, by: ['rerun' as const] })),
];

/** Writes the table the database checks stage changes against (called by `migrate`, under its lock). */
export async function writeStageTransitions(db: Queryable): Promise<void> {
  // In one transaction: other processes' stage changes see the old table or the new one, never none.
  await db.query('BEGIN');
  try {
    await db.query('DELETE FROM stage_transitions');
    await db.query(
      'INSERT INTO stage_transitions (from_status, to_status) SELECT * FROM unnest($1::text[], $2::text[])',
      [STAGE_TRANSITIONS.map((t) => t.from), STAGE_TRANSITIONS.map((t) => t.to)]);
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK');
    throw err;
  }
}

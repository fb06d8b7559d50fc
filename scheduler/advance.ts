import { runs, type Queryable, type StageRow } from '../store/index.ts';
import type { SchedulerDeps } from './deps.ts';
import { sendReport, sendStage } from './dispatch.ts';
import { deriveRunStatus } from './run-status.ts';

/**
 * After a stage reached a final state (inside the transaction that put it
 * there, with the run locked): skip what can no longer run, dispatch what
 * became ready, derive the run's state, and ask for a status report.
 */
export async function advanceRun(deps: SchedulerDeps, tx: Queryable, runId: number, finished: string): Promise<void> {
  let stages = await runs.getStages(tx, runId);
  // Skipping one stage can doom the stages that need it: repeat until nothing changes.
  for (let changed = true; changed;) {
    changed = false;
    const byName = new Map(stages.map((s) => [s.name, s]));
    for (const stage of stages) {
      if (stage.status !== 'queued') continue;
      const blocked = stage.needs.map((n) => byName.get(n)).find((n) => n && ['failure', 'canceled', 'skipped'].includes(n.status));
      if (!blocked) continue;
      await runs.transitionStage(tx, { runId, name: stage.name, attempt: stage.attempt, from: ['queued'], to: 'skipped', reason: `needs '${blocked.name}', which ended ${blocked.status}` });
      stage.status = 'skipped';
      changed = true;
    }
  }
  stages = await runs.getStages(tx, runId);
  const byName = new Map<string, StageRow>(stages.map((s) => [s.name, s]));
  for (const stage of stages) {
    // Only stages that need the one just finished: with the run locked, exactly
    // one transaction (the last need's) sees all needs met, so each is sent once.
    if (stage.status !== 'queued' || !stage.needs.includes(finished)) continue;
    if (stage.needs.every((n) => byName.get(n)?.status === 'success')) {
      await sendStage(deps, tx, { runId, stage: stage.name, attempt: stage.attempt });
    }
  }
  await runs.setRunStatus(tx, runId, deriveRunStatus(stages));
  await sendReport(deps, tx, runId);
}

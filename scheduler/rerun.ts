import { audit, runs, withTransaction } from '../store/index.ts';
import { startStages } from './advance.ts';
import type { SchedulerDeps } from './deps.ts';
import { isFinal } from './run-status.ts';
import { ConflictError, NotFoundError } from './errors.ts';

export class RerunError extends ConflictError {}

/** A stage and every stage that needs it, directly or not. */
function withDependents(stages: Array<{ name: string; needs: string[] }>, name: string): Set<string> {
  const set = new Set([name]);
  for (let grew = true; grew;) {
    grew = false;
    for (const s of stages) {
      if (!set.has(s.name) && s.needs.some((n) => set.has(n))) {
        set.add(s.name);
        grew = true;
      }
    }
  }
  return set;
}

/**
 * A rerun keeps the run's id, increments its attempt, reuses its event,
 * commit and parsed pipeline file, and asks for approvals again
 * (docs/api.md, "Runs"). With a stage: that stage and its dependents only.
 */
export async function rerunRun(deps: SchedulerDeps, runId: number, actor: string, stage?: string, opts: { failedOnly?: boolean } = {}): Promise<{ id: number; attempt: number; stages: string[] }> {
  return withTransaction(deps.pool, async (tx) => {
    await runs.lockRun(tx, runId);
    const run = await runs.getRun(tx, runId);
    if (!run) throw new NotFoundError(`no run ${runId}`);
    const stages = await runs.getStages(tx, runId);
    if (stages.length === 0) throw new RerunError(`run ${runId} has no stages to run again (${run.reason ?? run.status})`);
    if (stage && !stages.some((s) => s.name === stage)) throw new NotFoundError(`run ${runId} has no stage ${stage}`);
    const busy = stages.filter((s) => !isFinal(s.status));
    if (busy.length) throw new RerunError(`run ${runId} is still in progress (${busy.map((s) => `${s.name}: ${s.status}`).join(', ')}): cancel it first`);
    const failed = stages.filter((s) => s.status === 'failure' || s.status === 'canceled').map((s) => s.name);
    if (opts.failedOnly && !failed.length) throw new RerunError(`run ${runId} has no failed or canceled stage to run again`);
    const again = stage ? withDependents(stages, stage)
      : opts.failedOnly ? new Set(failed.flatMap((name) => [...withDependents(stages, name)]))
      : new Set(stages.map((s) => s.name));
    await runs.resetStages(tx, runId, [...again]);
    await runs.clearApproval(tx, runId);
    const ready = stages.filter((s) => again.has(s.name) && s.needs.every((n) => !again.has(n))).map((s) => s.name);
    await startStages(deps, tx, runId, ready);
    await audit(tx, { actor, action: 'run.rerun', reason: `run ${runId}${stage ? ` stage ${stage}` : opts.failedOnly ? ' failed stages' : ''}` });
    return { id: runId, attempt: run.attempt + 1, stages: [...again] };
  });
}

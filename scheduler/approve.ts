import { audit, environments, runs, withTransaction } from '../store/index.ts';
import { advanceRun } from './advance.ts';
import type { SchedulerDeps } from './deps.ts';
import { reopenStages } from './release.ts';
import { environmentOf } from './run-definition.ts';
import { ConflictError, ForbiddenError, NotFoundError } from './errors.ts';

export class ApprovalError extends ConflictError {}

/**
 * `forgeline approve RUN STAGE`, POST …/stages/<name>/approve: lets a
 * waiting stage go. A fork's pull request is approved for the whole run; a
 * deployment, for that stage, by a token the environment's approvers name.
 */
export async function approveStage(deps: SchedulerDeps, runId: number, name: string, actor: string): Promise<{ run: number; stage: string; approved: 'run' | 'stage' }> {
  return withTransaction(deps.pool, async (tx) => {
    await runs.lockRun(tx, runId);
    const run = await runs.getRun(tx, runId);
    const stage = run && (await runs.getStages(tx, runId)).find((s) => s.name === name);
    if (!run || !stage) throw new NotFoundError(`run ${runId} has no stage ${name}`);
    if (stage.status !== 'waiting' || (stage.waitingFor !== 'fork' && stage.waitingFor !== 'approval')) {
      throw new ApprovalError(`stage ${name} of run ${runId} is ${stage.status}${stage.waitingFor ? ` (${stage.waitingFor})` : ''}, not waiting for an approval`);
    }
    let superseded: Array<{ runId: number; name: string }>;
    let approved: 'run' | 'stage';
    if (stage.waitingFor === 'fork') {
      await runs.approveRun(tx, runId, actor);
      superseded = await reopenStages(deps, tx, runId, await runs.stagesWaitingFor(tx, runId, 'fork'));
      approved = 'run';
    } else {
      const environment = environmentOf(run, name);
      const env = environment ? await environments.getEnvironment(tx, run.repoId, environment) : null;
      if (env?.approvers?.length && !env.approvers.includes(actor)) {
        throw new ForbiddenError(`${actor} may not approve deployments to ${environment} (approvers: ${env.approvers.join(', ')})`);
      }
      await runs.approveStage(tx, runId, name, actor);
      superseded = await reopenStages(deps, tx, runId, [name]);
      approved = 'stage';
    }
    for (const s of superseded) await advanceRun(deps, tx, s.runId, s.name);
    // Reopening may have ended the stage (a gate it fails): its dependents are decided now.
    const after = (await runs.getStages(tx, runId)).find((s) => s.name === name)!;
    if (['success', 'failure', 'skipped', 'canceled'].includes(after.status)) await advanceRun(deps, tx, runId, name);
    await audit(tx, { actor, action: 'stage.approve', reason: `run ${runId} ${approved === 'run' ? '(fork)' : `stage ${name}`}` });
    return { run: runId, stage: name, approved };
  });
}

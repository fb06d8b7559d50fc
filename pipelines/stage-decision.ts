import type { ForgeEvent } from '../providers/types.ts';
import { evaluateCondition } from './cel.ts';
import type { StageDefinition } from './types.ts';

export type StageDecision = { run: true } | { run: false; status: 'skipped' | 'failure'; reason: string };

/**
 * docs/pipelines.md: whether a stage whose needs have all finished runs. One whose
 * `if` reads `stages.*` runs if the condition holds, whatever its needs'
 * results; any other runs only when all its needs succeeded. `finished` maps
 * the run's finished stages to their results (a matrix stage's name to its
 * instances' together, pipelines/matrix.ts matrixResult); the payload is read only when
 * the condition needs it. `evaluate` decides the condition (the scheduler's
 * runs it within planning's limits). The scheduler and `forgeline exec` both decide here.
 */
export async function decideStage(
  stage: Pick<StageDefinition, 'if' | 'ifReadsStages' | 'needs'> & { matrix?: StageDefinition['matrix'] }, finished: Map<string, string>, event: ForgeEvent, payload: () => Promise<unknown> | unknown,
  evaluate: (source: string, vars: Record<string, unknown>) => boolean | Promise<boolean> = evaluateCondition,
): Promise<StageDecision> {
  if (stage.if && stage.ifReadsStages) {
    const stages = Object.fromEntries([...finished].map(([name, result]) => [name, { result }]));
    try {
      return (await evaluate(stage.if, { event, payload: await payload(), stages, matrix: stage.matrix?.values ?? {} }))
        ? { run: true }
        : { run: false, status: 'skipped', reason: `if: ${stage.if} is false` };
    } catch (err) {
      return { run: false, status: 'failure', reason: `if: ${(err as Error).message}` };
    }
  }
  const blocked = stage.needs.find((n) => finished.get(n) !== 'success');
  return blocked ? { run: false, status: 'skipped', reason: `needs '${blocked}', which ended ${finished.get(blocked) ?? 'without running'}` } : { run: true };
}

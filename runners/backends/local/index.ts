import path from 'node:path';
import type { Backend, StageResult, StageSpec } from '../../backend.ts';
import { processRunner } from '../../process-runner.ts';
import { stepEnvironment } from '../../step-env.ts';
import { closeWorkspace, keepOutputs, openWorkspace } from '../../workspace.ts';

/**
 * Steps as processes on the worker's host (runners/process-runner.ts), in a
 * private checkout of the commit (runners/workspace.ts), removed afterwards.
 * A stage that names an `image` is not run here: its steps expect that
 * image's tools, and a worker's host is no substitute.
 */
export const localBackend: Backend = {
  name: 'local',
  async runStage(spec: StageSpec): Promise<StageResult> {
    if (spec.image) throw new Error(`the stage runs in the image ${spec.image}, and this worker runs steps on its host (--backend local): start workers with --backend docker`);
    if (spec.services?.length) throw new Error(`the stage has services (${spec.services.map((s) => s.name).join(', ')}), and this worker runs steps on its host (--backend local): start workers with --backend docker`);
    const workspace = path.join(spec.workspaceRoot, spec.id);
    try {
      const opened = await openWorkspace(spec);
      const outcome = await processRunner.run({
        workdir: opened.src, steps: spec.steps, env: spec.env, ciEnv: stepEnvironment(spec.context, opened.home), timeoutMs: spec.timeoutMs,
        log: spec.log, signal: spec.signal, user: spec.user,
      });
      return await keepOutputs(spec, opened, outcome);
    } finally {
      await closeWorkspace({ root: workspace });
    }
  },
  hold: processRunner.hold,
};

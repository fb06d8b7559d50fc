import path from 'node:path';
import { packArtifacts } from '../../artifacts.ts';
import type { Backend, StageResult, StageSpec } from '../../backend.ts';
import { processRunner } from '../../process-runner.ts';
import { stepEnvironment } from '../../step-env.ts';
import { closeWorkspace, openWorkspace } from '../../workspace.ts';

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
    const workspace = path.join(spec.workspaceRoot, spec.id);
    try {
      const { src, home } = await openWorkspace(spec);
      const outcome = await processRunner.run({
        workdir: src, steps: spec.steps, env: spec.env, ciEnv: stepEnvironment(spec.context, home), timeoutMs: spec.timeoutMs,
        log: spec.log, signal: spec.signal, user: spec.user,
      });
      const artifacts = outcome.status === 'success' && spec.keep.length ? await packArtifacts(src, spec.keep, { maxBytes: spec.artifactMaxBytes }) : null;
      return { ...outcome, artifacts };
    } finally {
      await closeWorkspace({ root: workspace });
    }
  },
  hold: processRunner.hold,
};

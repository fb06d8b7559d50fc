import { chmodSync, mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { createCheckout } from '../../../git/index.ts';
import { packArtifacts, unpackArtifacts } from '../../artifacts.ts';
import type { Backend, StageResult, StageSpec } from '../../backend.ts';
import { processRunner } from '../../process-runner.ts';
import { chownTree } from '../../run-as.ts';
import { stepEnvironment } from '../../step-env.ts';

/**
 * Steps as processes on the worker's host (runners/process-runner.ts), in a
 * private checkout of the commit: `<workspaceRoot>/<id>/src`, with a HOME of
 * its own beside it, both owned by the step user and removed afterwards.
 */
export const localBackend: Backend = {
  name: 'local',
  async runStage(spec: StageSpec): Promise<StageResult> {
    const workspace = path.join(spec.workspaceRoot, spec.id);
    const src = path.join(workspace, 'src');
    const home = path.join(workspace, 'home');
    try {
      // Closed to other users before anything is in it: a step of another stage cannot step in
      // early and keep a handle on it (it becomes its step user's below).
      mkdirSync(workspace, { recursive: true, mode: 0o700 });
      chmodSync(workspace, 0o700);
      // Planning may have made it already, while the stage's job was on its way.
      if (!(await spec.prepared?.take(spec.checkout, src))) await createCheckout(spec.checkout.mirror, spec.checkout.sha, src, { independent: spec.checkout.independent });
      // Synchronous: one tiny call, rather than a wait for a busy event loop's next turn.
      mkdirSync(home, { recursive: true, mode: 0o700 });
      for (const a of spec.restore) {
        await unpackArtifacts(a.archive, src, { maxBytes: spec.artifactMaxBytes });
        spec.log(`forgeline: restored ${a.files.length} artifact file(s) of ${a.stage}\n`);
      }
      if (spec.user) await chownTree(workspace, spec.user);
      const outcome = await processRunner.run({
        workdir: src, steps: spec.steps, env: spec.env, ciEnv: stepEnvironment(spec.context, home), timeoutMs: spec.timeoutMs,
        log: spec.log, signal: spec.signal, user: spec.user,
      });
      const artifacts = outcome.status === 'success' && spec.keep.length ? await packArtifacts(src, spec.keep, { maxBytes: spec.artifactMaxBytes }) : null;
      return { ...outcome, artifacts };
    } finally {
      await rm(workspace, { recursive: true, force: true }).catch(() => {});
    }
  },
  hold: processRunner.hold,
};

// A job that runs twice changes nothing the second time (issue:
// idempotent handlers), and a stage leaves no workspace behind.
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDelivery } from '../scheduler/plan.ts';
import { runStageJob, workspaceRoot } from '../scheduler/stage.ts';
import { startBench, type Bench } from './helpers/engine.ts';

describe('jobs delivered twice', () => {
  let b: Bench;
  let scratch: string;
  beforeAll(async () => {
    b = await startBench('acme/twice', { workers: 1 });
    scratch = await mkdtemp(path.join(tmpdir(), 'forgeline-twice-'));
  });
  afterAll(() => b?.stop());

  it('plans a delivery and runs a stage once however often their jobs come, and removes the stage\'s workspace', async () => {
    const ran = path.join(scratch, 'ran');
    const { runs: [id], delivery } = await b.push({
      '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  once:\n    steps: [{ run: "echo ran >> ${ran}; echo workdir=$PWD" }]\n`,
    });
    const first = await b.finished(id!);
    expect(first.status).toBe('success');
    const deps = b.forgeline.runtime.deps;

    // The plan job again: the same run, nothing new.
    expect(await planDelivery(deps, delivery.id)).toEqual([]);
    const replanned = (await b.api(`/deliveries/${delivery.id}`)).body;
    expect(replanned.runs).toEqual([id]);
    // Its explain trace still names the run.
    expect(replanned.explain[0].pipelines.map((p: { run?: number }) => p.run)).toEqual([id]);
    expect((await b.api(`/runs?repo=${b.hook.id}`)).body.items.map((r: { id: number }) => r.id)).toEqual([id]);

    // The stage job again, for the attempt that already ran: the stage is no longer queued, nothing runs.
    const log = await b.log(id!, 'once');
    await runStageJob(deps, { runId: id!, stage: 'once', attempt: 1 });
    expect(await readFile(ran, 'utf8')).toBe('ran\n');
    const again = await b.run(id!);
    expect([again.status, again.stages[0].status, again.stages[0].attempt, again.stages[0].finishedAt]).toEqual(['success', 'success', 1, first.stages[0].finishedAt]);
    expect(await b.log(id!, 'once')).toBe(log);

    // The checkout the step ran in is gone.
    const workspace = log.match(/workdir=(\/\S+)/)![1]!;
    expect(workspace.startsWith(workspaceRoot(deps))).toBe(true);
    expect((await readdir(workspaceRoot(deps))).filter((d) => d.startsWith(`${id}-`))).toEqual([]);
  });
});

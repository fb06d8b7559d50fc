// The runner seam: the scheduler asks the process's back end to run a stage
// and records what it answers, whatever that back end is.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, StageSpec } from '../runners/index.ts';
import { startBench, type Bench } from './helpers/engine.ts';
import { waitFor } from './helpers/forgeline.ts';

describe('the back end a stage runs on', () => {
  let b: Bench;
  let local: Backend;
  beforeAll(async () => {
    b = await startBench('acme/backend', { workers: 1 });
    local = b.forgeline.runtime.deps.backend;
  });
  afterAll(() => b?.stop());
  const use = (backend: Backend) => { b.forgeline.runtime.deps.backend = backend; };

  it('gets the commit, the steps, the artifacts to restore and keep, and its answer is the stage\'s', async () => {
    const specs: StageSpec[] = [];
    use({ name: 'recording', runStage: (spec) => { specs.push(spec); return local.runStage(spec); }, hold: local.hold });
    const { sha, runs: [id] } = await b.push({
      '.forgeline/ci.yml': 'env: { WHO: pipeline }\non: { push: {} }\nstages:\n  build:\n    steps: [{ run: "echo $WHO > out.txt" }]\n    artifacts: [out.txt]\n  test:\n    needs: [build]\n    steps: [{ run: "grep pipeline out.txt" }]\n',
    });
    expect((await b.finished(id!)).status).toBe('success');
    expect(specs.map((s) => s.context.stage)).toEqual(['build', 'test']);
    const [build, test] = specs as [StageSpec, StageSpec];
    expect(build).toMatchObject({ id: `${id}-build-1`, checkout: { sha, independent: false }, keep: ['out.txt'], restore: [], user: null, env: { WHO: 'pipeline' } });
    expect(build.steps.map((s) => s.run)).toEqual(['echo $WHO > out.txt']);
    expect(test.restore.map((r) => [r.stage, r.files])).toEqual([['build', ['out.txt']]]);
  });

  it('records a failure the back end answers, with its reason, on the stage and the forge', async () => {
    use({ name: 'refusing', runStage: async (spec) => { spec.log('pulling image\n'); return { status: 'failure', reason: 'image alpine:3 could not be pulled' }; } });
    const { sha, runs: [id] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  build:\n    steps: [{ run: "true" }]\n' });
    const stage = await b.stage(id!, 'build', 'failure');
    expect(stage.reason).toBe('image alpine:3 could not be pulled');
    expect(await b.log(id!, 'build')).toContain('pulling image');
    const posted = await waitFor(async () => b.github.statuses.find((s) => s.sha === sha && s.context.endsWith('/build') && s.state === 'failure'), 'the failure status');
    expect(posted.description).toContain('image alpine:3 could not be pulled');
  });

  it('holds a stage that names an image while no worker runs images, saying so, and never runs it on the host', async () => {
    use(local);
    const marker = path.join(tmpdir(), `forgeline-ran-on-host-${process.pid}`);
    const { runs: [id] } = await b.push({ '.forgeline/ci.yml': `on: { push: {} }\nstages:\n  build:\n    image: node:22\n    steps: [{ run: "touch ${marker}" }]\n` });
    const stage = await b.stage(id!, 'build', 'waiting');
    expect(stage.reason).toBe('waiting for a worker that runs images (--backend docker)');
    await new Promise((r) => setTimeout(r, 1500));
    expect((await b.run(id!)).stages[0].status).toBe('waiting');
    expect(existsSync(marker)).toBe(false);
  });

  it('fails the stage with the message of a back end that could not set it up, never leaving it running', async () => {
    use({ name: 'broken', runStage: async () => { throw new Error('the container engine at unix:///run/podman.sock did not answer'); } });
    const { runs: [id] } = await b.push({ '.forgeline/ci.yml': 'on: { push: {} }\nstages:\n  build:\n    steps: [{ run: "true" }]\n' });
    const stage = await b.stage(id!, 'build', 'failure');
    expect(stage.reason).toBe('the container engine at unix:///run/podman.sock did not answer');
    expect(await b.log(id!, 'build')).toContain('forgeline: the container engine at unix:///run/podman.sock did not answer');
    use(local);
  });
});
